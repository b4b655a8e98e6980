import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countByKind, diffDrift, DriftKind, shadows, type ExpectedRule } from '../../src/drift/drift-diff';
import type { RouterRule } from '../../src/vyos/types';
import { RANGE, rule } from '../support/router-rules.js';


const ours = (...rules: RouterRule[]): ExpectedRule[] => rules.map((r) => ({ portRuleId: `id-${r.ruleNumber}`, expected: r }));

describe('diffDrift', () => {
  it('reports nothing when the router holds exactly our rules, and foreign rules that do not shadow', () => {
    const a = rule(10000);
    const b = rule(10001, { protocol: 'udp', sourceAddress: '203.0.113.0/24', disabled: true });
    const foreign = rule(50, { externalPort: '22', translationAddress: '10.0.0.1' });
    assert.deepEqual(diffDrift(ours(a, b), [foreign, a, b], RANGE, 'eth0'), []);
  });

  it('finds the same differences whatever order the two lists come in (it merges them by rule number)', () => {
    const exp = [rule(10003), rule(10000), rule(10002, { internalPort: '8080' }), rule(10005)];
    const held = [rule(10005), rule(10004), rule(10002), rule(10000), rule(40)];
    const kinds = (e: RouterRule[], r: RouterRule[]) => diffDrift(ours(...e), r, RANGE, 'eth0').map((i) => [i.kind, i.ruleNumber]);
    const expectedKinds = [
      [DriftKind.DRIFTED, 10002],
      [DriftKind.MISSING_ON_ROUTER, 10003],
      [DriftKind.UNMANAGED_ON_ROUTER, 10004],
    ];
    assert.deepEqual(kinds(exp, held), expectedKinds);
    const byNumber = (a: RouterRule, b: RouterRule) => a.ruleNumber - b.ruleNumber;
    assert.deepEqual(kinds([...exp].sort(byNumber), [...held].sort(byNumber)), expectedKinds);
  });

  it('two rows on one rule number are both compared with the router rule there (none is MISSING)', () => {
    const items = diffDrift(ours(rule(10000), rule(10000, { internalPort: '8080' })), [rule(10000)], RANGE, 'eth0');
    assert.deepEqual(items.map((i) => [i.kind, i.ruleNumber]), [[DriftKind.DRIFTED, 10000]]);
  });

  it('MISSING_ON_ROUTER for a row with no rule of its number', () => {
    const items = diffDrift(ours(rule(10000), rule(10001)), [rule(10000)], RANGE, 'eth0');
    assert.deepEqual(items, [{ kind: DriftKind.MISSING_ON_ROUTER, ruleNumber: 10001, portRuleId: 'id-10001', routerRule: null, fields: [] }]);
  });

  it('DRIFTED lists every differing field with expected and actual', () => {
    const expected = rule(10000, { sourceAddress: '198.51.100.7' });
    const actual = rule(10000, {
      protocol: 'tcp_udp',
      externalPort: '40000',
      internalPort: '8080',
      translationAddress: '192.168.64.101',
      description: 'changed by hand',
      disabled: true,
      inboundInterface: 'eth1',
    });
    delete actual.sourceAddress;
    const [item, ...rest] = diffDrift(ours(expected), [actual], RANGE, 'eth0');
    assert.equal(rest.length, 0);
    assert.equal(item.kind, DriftKind.DRIFTED);
    assert.equal(item.routerRule, actual);
    assert.deepEqual(
      Object.fromEntries(item.fields.map((f) => [f.field, [f.expected, f.actual]])),
      {
        protocol: ['tcp', 'tcp_udp'],
        externalPort: [expected.externalPort, '40000'],
        internalPort: ['80', '8080'],
        translationAddress: ['192.168.64.100', '192.168.64.101'],
        sourceAddress: ['198.51.100.7', null],
        description: ['vm web', 'changed by hand'],
        enabled: ['true', 'false'],
        inboundInterface: ['eth0', 'eth1'],
      },
    );
  });

  it('UNMANAGED_ON_ROUTER only inside the range; foreign rules outside it are never reported unless they shadow', () => {
    const items = diffDrift(ours(), [rule(10000), rule(19999), rule(9999), rule(20000), rule(1)], RANGE, 'eth0');
    assert.deepEqual(items.map((i) => [i.kind, i.ruleNumber]), [
      [DriftKind.UNMANAGED_ON_ROUTER, 10000],
      [DriftKind.UNMANAGED_ON_ROUTER, 19999],
    ]);
  });

  it('a database row outside the range (range narrowed later) is still diffed as ours', () => {
    const old = rule(5000);
    const items = diffDrift(ours(old), [{ ...old, description: 'x' }], RANGE, 'eth0');
    assert.equal(items[0].kind, DriftKind.DRIFTED);
  });

  it('SHADOWED: a lower-numbered foreign rule on our port and an overlapping protocol', () => {
    const mine = rule(10005, { externalPort: '32080', protocol: 'tcp' });
    const catcher = rule(100, { externalPort: '32080', protocol: 'tcp_udp', translationAddress: '10.0.0.9' });
    const [item, ...rest] = diffDrift(ours(mine), [catcher, mine], RANGE, 'eth0');
    assert.equal(rest.length, 0);
    assert.deepEqual(item, {
      kind: DriftKind.SHADOWED,
      ruleNumber: 100,
      portRuleId: 'id-10005',
      routerRule: catcher,
      fields: [
        { field: 'externalPort', expected: '32080', actual: '32080' },
        { field: 'protocol', expected: 'tcp', actual: 'tcp_udp' },
      ],
    });
  });

  it('not SHADOWED: higher number, disabled, other protocol, other port, other interface', () => {
    const mine = rule(10005, { externalPort: '32080', protocol: 'tcp' });
    const candidates = [
      rule(20000, { externalPort: '32080' }), // after ours: VyOS never gets to it first
      rule(100, { externalPort: '32080', disabled: true }),
      rule(101, { externalPort: '32080', protocol: 'udp' }),
      rule(102, { externalPort: '32081' }),
      rule(103, { externalPort: '32080', inboundInterface: 'eth1' }),
    ];
    assert.deepEqual(diffDrift(ours(mine), [...candidates, mine], RANGE, 'eth0'), []);
  });

  it('SHADOWED through port lists and ranges, and by a rule with no port or protocol at all', () => {
    const mine = rule(10005, { externalPort: '32080', protocol: 'udp' });
    const list = rule(100, { externalPort: '22,32080', protocol: 'udp' });
    const range = rule(101, { externalPort: '32000-32100', protocol: 'all' });
    const everything: RouterRule = { ruleNumber: 102, translationAddress: '10.0.0.1', disabled: false };
    const items = diffDrift(ours(mine), [list, range, everything, mine], RANGE, 'eth0');
    assert.deepEqual(items.map((i) => [i.kind, i.ruleNumber, i.portRuleId]), [
      [DriftKind.SHADOWED, 100, 'id-10005'],
      [DriftKind.SHADOWED, 101, 'id-10005'],
      [DriftKind.SHADOWED, 102, 'id-10005'],
    ]);
  });

  it('sorts by rule number and counts by kind', () => {
    const items = diffDrift(ours(rule(10003), rule(10001, { description: 'a' })), [rule(10001), rule(10002)], RANGE, 'eth0');
    assert.deepEqual(items.map((i) => i.ruleNumber), [10001, 10002, 10003]);
    assert.deepEqual(countByKind(items), { MISSING_ON_ROUTER: 1, UNMANAGED_ON_ROUTER: 1, DRIFTED: 1, SHADOWED: 0 });
  });
});

describe('shadowing rules', () => {
  it('a foreign rule without an interface catches the WAN traffic too', () => {
    assert.equal(shadows(rule(1, { inboundInterface: undefined, externalPort: '32000' }), rule(10000), 'eth0'), true);
  });
});
