import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  diffRule,
  inverse,
  NAT_DESTINATION_PATH,
  parseNatDestination,
  renderDelete,
  renderReplace,
  renderRule,
  touchedRuleNumbers,
} from '../../src/vyos/nat-rule';
import { commandsToConfigJson } from '../../src/vyos/config-json';
import type { NatSyntax, RouterCommand, RouterRule } from '../../src/vyos/types';

const web: RouterRule = {
  ruleNumber: 10000,
  description: 'vm web (id 42)',
  protocol: 'tcp',
  externalPort: '32000',
  inboundInterface: 'eth0',
  translationAddress: '192.168.64.100',
  internalPort: '8080',
  disabled: false,
};

const R = ['nat', 'destination', 'rule', '10000'];

/** showConfig ['nat','destination'] of a config built from commands (null when empty). */
const show = (commands: RouterCommand[]): unknown => commandsToConfigJson(commands, NAT_DESTINATION_PATH);

describe('renderRule (design.md, vyos-api.md §5)', () => {
  it('§5 renders 1.4 syntax: inbound-interface name, every path element a string (§1)', () => {
    assert.deepEqual(renderRule(web, { syntax: '1.4' }), [
      { op: 'set', path: [...R, 'description', 'vm web (id 42)'] },
      { op: 'set', path: [...R, 'protocol', 'tcp'] },
      { op: 'set', path: [...R, 'destination', 'port', '32000'] },
      { op: 'set', path: [...R, 'inbound-interface', 'name', 'eth0'] },
      { op: 'set', path: [...R, 'translation', 'address', '192.168.64.100'] },
      { op: 'set', path: [...R, 'translation', 'port', '8080'] },
    ]);
  });

  it('§5 renders 1.3 syntax: inbound-interface as a leaf', () => {
    const cmds = renderRule(web, { syntax: '1.3' });
    assert.deepEqual(cmds[3], { op: 'set', path: [...R, 'inbound-interface', 'eth0'] });
    assert.equal(cmds.length, 6);
  });

  it('§5 adds source address only when set and disable only when disabled', () => {
    const cmds = renderRule({ ...web, sourceAddress: '203.0.113.0/24', disabled: true }, { syntax: '1.4' });
    assert.deepEqual(cmds.slice(-2), [
      { op: 'set', path: [...R, 'source', 'address', '203.0.113.0/24'] },
      { op: 'set', path: [...R, 'disable'] },
    ]);
    for (const c of cmds) for (const el of c.path) assert.equal(typeof el, 'string');
  });

  it('§1 leaves out empty optional values (an empty value means "no value" to the router)', () => {
    const cmds = renderRule({ ruleNumber: 5, description: '', protocol: 'udp', disabled: false }, { syntax: '1.4' });
    assert.deepEqual(cmds, [{ op: 'set', path: ['nat', 'destination', 'rule', '5', 'protocol', 'udp'] }]);
  });

  it('§1 renderDelete deletes the rule tag value; renderReplace is delete + sets', () => {
    assert.deepEqual(renderDelete(10000), { op: 'delete', path: R });
    const replace = renderReplace(web, { syntax: '1.4' });
    assert.deepEqual(replace[0], { op: 'delete', path: R });
    assert.deepEqual(replace.slice(1), renderRule(web, { syntax: '1.4' }));
  });

  it('§1 renderReplace leaves no stale leaves behind', () => {
    const old = { ...web, sourceAddress: '198.51.100.7', disabled: true };
    const fresh = { ...web, internalPort: '9090' };
    const cmds = [...renderRule(old, { syntax: '1.4' }), ...renderReplace(fresh, { syntax: '1.4' })];
    assert.deepEqual(parseNatDestination(show(cmds)), [fresh]);
  });
});

describe('parseNatDestination (vyos-api.md §3)', () => {
  // The §3 example, verbatim (the `data` of the envelope).
  const example = JSON.parse(`{"success": true, "error": null, "data": {"rule": {
  "100": {"description": "vm web (id 42)", "destination": {"port": "8080"},
          "inbound-interface": {"name": "eth0"}, "protocol": "tcp",
          "translation": {"address": "10.0.0.10", "port": "80"}},
  "110": {"disable": {}, "log": {}, "destination": {"port": "2222,2223"},
          "inbound-interface": {"name": "eth0"}, "protocol": "tcp_udp",
          "source": {"address": "!192.0.2.0/24"}, "translation": {"address": "10.0.0.11"}}}}}`) as { data: unknown };

  const expected: RouterRule[] = [
    {
      ruleNumber: 100,
      description: 'vm web (id 42)',
      externalPort: '8080',
      inboundInterface: 'eth0',
      protocol: 'tcp',
      translationAddress: '10.0.0.10',
      internalPort: '80',
      disabled: false,
    },
    {
      ruleNumber: 110,
      externalPort: '2222,2223',
      inboundInterface: 'eth0',
      protocol: 'tcp_udp',
      sourceAddress: '!192.0.2.0/24',
      translationAddress: '10.0.0.11',
      disabled: true,
    },
  ];

  it('§3 parses the 1.4+ example verbatim (valueless disable = {}, unknown log ignored)', () => {
    assert.deepEqual(parseNatDestination(example.data), expected);
  });

  it('§3 parses 1.3 inbound-interface as a plain string', () => {
    const data = JSON.parse(JSON.stringify(example.data).replaceAll('{"name":"eth0"}', '"eth0"'));
    assert.equal(data.rule['100']['inbound-interface'], 'eth0');
    assert.deepEqual(parseNatDestination(data), expected);
  });

  it('§3 joins a list value (two or more values) with ","', () => {
    const data = { rule: { '7': { destination: { port: ['2222', '2223'] }, 'inbound-interface': ['eth0', 'eth1'] } } };
    assert.deepEqual(parseNatDestination(data), [
      { ruleNumber: 7, externalPort: '2222,2223', inboundInterface: 'eth0,eth1', disabled: false },
    ]);
  });

  it('§3 null (empty path) and a node without rules give no rules', () => {
    assert.deepEqual(parseNatDestination(null), []);
    assert.deepEqual(parseNatDestination({}), []);
    assert.deepEqual(parseNatDestination({ rule: {} }), []);
  });

  it('§3 tolerates unknown nodes, does not depend on key order, sorts by rule number', () => {
    const data = {
      'unknown-node': { x: 'y' },
      rule: {
        '20': { 'load-balance': { backend: { '10.0.0.1': {} } }, 'inbound-interface': { group: 'WAN' }, exclude: {} },
        '3': { translation: { address: '10.0.0.3', options: { 'port-mapping': 'random' } } },
        'not-a-number': { protocol: 'tcp' },
      },
    };
    assert.deepEqual(parseNatDestination(data), [
      { ruleNumber: 3, translationAddress: '10.0.0.3', disabled: false },
      { ruleNumber: 20, disabled: false },
    ]);
  });

  it('rejects a reply that is not an object', () => {
    assert.throws(() => parseNatDestination('rule 10'), TypeError);
  });
});

describe('diffRule', () => {
  it('reports no drift for equal rules', () => {
    assert.deepEqual(diffRule(web, { ...web }), []);
  });

  it('reports each differing field with expected and actual (null when absent)', () => {
    const actual: RouterRule = {
      ruleNumber: 10000,
      protocol: 'udp',
      externalPort: '32000',
      translationAddress: '192.168.64.101',
      internalPort: '8080',
      sourceAddress: '0.0.0.0/0',
      inboundInterface: 'eth1',
      disabled: true,
    };
    assert.deepEqual(diffRule(web, actual), [
      { field: 'protocol', expected: 'tcp', actual: 'udp' },
      { field: 'translationAddress', expected: '192.168.64.100', actual: '192.168.64.101' },
      { field: 'sourceAddress', expected: null, actual: '0.0.0.0/0' },
      { field: 'description', expected: 'vm web (id 42)', actual: null },
      { field: 'enabled', expected: 'true', actual: 'false' },
      { field: 'inboundInterface', expected: 'eth0', actual: 'eth1' },
    ]);
  });
});

describe('touchedRuleNumbers and inverse', () => {
  const other: RouterRule = { ...web, ruleNumber: 10001, externalPort: '32001', sourceAddress: '198.51.100.0/24' };
  const opts = { syntax: '1.4' as NatSyntax };

  it('touchedRuleNumbers lists NAT destination rule numbers only, ascending, once', () => {
    const cmds: RouterCommand[] = [
      ...renderRule(other, opts),
      ...renderReplace(web, opts),
      { op: 'set', path: ['nat', 'source', 'rule', '5', 'translation', 'address', 'masquerade'] },
      { op: 'comment', path: ['nat', 'destination', 'rule', '7', 'note'] },
    ];
    assert.deepEqual(touchedRuleNumbers(cmds), [10000, 10001]);
  });

  it('undoes a create by deleting the new rule', () => {
    assert.deepEqual(inverse(renderRule(web, opts), [], opts), [renderDelete(10000)]);
  });

  it('undoes an update by delete + re-render of the previous state; untouched rules are not mentioned', () => {
    const changed = { ...web, internalPort: '9999', disabled: true };
    const undo = inverse(renderReplace(changed, opts), [web, other], opts);
    assert.deepEqual(undo, renderReplace(web, opts));
  });

  it('undoes a delete by re-rendering without deleting the absent rule (§1 strict mode)', () => {
    assert.deepEqual(inverse([renderDelete(10000)], [web, other], opts), renderRule(web, opts));
  });

  it('renders the previous state in the requested syntax', () => {
    const undo = inverse([renderDelete(10000)], [web], { syntax: '1.3' });
    assert.deepEqual(undo, renderRule(web, { syntax: '1.3' }));
  });

  it('a delete of nat destination touches every rule', () => {
    const undo = inverse([{ op: 'delete', path: ['nat', 'destination'] }], [web, other], opts);
    assert.deepEqual(undo, [...renderRule(web, opts), ...renderRule(other, opts)]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const safeChar = fc
  .integer({ min: 0x20, max: 0x7e })
  .map((c) => String.fromCharCode(c))
  .filter((c) => c !== '"' && c !== "'");
const port = fc.integer({ min: 1, max: 65535 }).map(String);
const cidr = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, len]) => `${ip}/${len}`);

const ruleArb = (ruleNumber: fc.Arbitrary<number>): fc.Arbitrary<RouterRule> =>
  fc.record(
    {
      ruleNumber,
      description: fc.string({ unit: safeChar, minLength: 1, maxLength: 200 }),
      protocol: fc.constantFrom('tcp', 'udp', 'tcp_udp'),
      externalPort: port,
      internalPort: port,
      translationAddress: fc.ipV4(),
      sourceAddress: fc.oneof(fc.ipV4(), cidr),
      inboundInterface: fc.constantFrom('eth0', 'eth1', 'bond0', 'br0.20', 'wg0'),
      disabled: fc.boolean(),
    },
    // Optional keys are omitted entirely, as the parser does for absent leaves.
    { noNullPrototype: true, requiredKeys: ['ruleNumber', 'protocol', 'externalPort', 'internalPort', 'translationAddress', 'disabled'] },
  );
const syntaxArb = fc.constantFrom<NatSyntax>('1.3', '1.4');

describe('properties (fast-check)', () => {
  it('§3 round trip: parse(showConfig(render(rule))) equals the rule, both syntaxes', () => {
    fc.assert(
      fc.property(ruleArb(fc.integer({ min: 1, max: 999999 })), syntaxArb, (rule, syntax) => {
        assert.deepEqual(parseNatDestination(show(renderRule(rule, { syntax }))), [rule]);
      }),
      { numRuns: 500 },
    );
  });

  it('§1 replace round trip: any old rule replaced by any new rule reads back as the new rule', () => {
    fc.assert(
      fc.property(ruleArb(fc.constant(10000)), ruleArb(fc.constant(10000)), syntaxArb, (old, fresh, syntax) => {
        const cmds = [...renderRule(old, { syntax }), ...renderReplace(fresh, { syntax })];
        assert.deepEqual(parseNatDestination(show(cmds)), [fresh]);
      }),
      { numRuns: 300 },
    );
  });

  it('inverse restores the previous rules and never deletes a rule the batch left absent', () => {
    const before = fc.uniqueArray(ruleArb(fc.integer({ min: 1, max: 12 })), {
      selector: (r) => r.ruleNumber,
      maxLength: 6,
    });
    const change = fc.oneof(
      ruleArb(fc.integer({ min: 1, max: 12 })).map((r) => ({ kind: 'replace' as const, rule: r })),
      fc.integer({ min: 1, max: 12 }).map((n) => ({ kind: 'delete' as const, n })),
    );
    fc.assert(
      fc.property(before, fc.array(change, { maxLength: 6 }), syntaxArb, (rules, changes, syntax) => {
        const setup = rules.flatMap((r) => renderRule(r, { syntax }));
        const batch = changes.flatMap((c) =>
          c.kind === 'replace' ? renderReplace(c.rule, { syntax }) : [renderDelete(c.n)],
        );
        const undo = inverse(batch, rules, { syntax });
        const afterBatch = parseNatDestination(show([...setup, ...batch])).map((r) => r.ruleNumber);
        for (const c of undo) {
          if (c.op === 'delete') assert.ok(afterBatch.includes(Number(c.path[3])), `deletes absent rule ${c.path[3]}`);
        }
        const sorted = [...rules].sort((a, b) => a.ruleNumber - b.ruleNumber);
        assert.deepEqual(parseNatDestination(show([...setup, ...batch, ...undo])), sorted);
        const touched = new Set(touchedRuleNumbers(batch));
        for (const n of touchedRuleNumbers(undo)) assert.ok(touched.has(n), `untouched rule ${n} mentioned`);
      }),
      { numRuns: 300 },
    );
  });
});
