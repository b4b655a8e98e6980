// VYOS_HAIRPIN=on end to end (docs/operations.md "Hairpin"): each port rule's twin on the LAN
// interface and the one masquerade rule appear and disappear with the port rules, in the same
// commit; they are verified and undone with them, and covered by syncReport and reconcile.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MASQUERADE_DESCRIPTION } from '../../src/domain/hairpin.js';
import type { RouterCommand } from '../../src/vyos/types.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const OFFSET = 100_000;
const SNAT = 9000;
const PROVISION = `mutation($name: String!, $port: Port!) { provisionVm(input: { name: $name, portRules: [{ internalPort: 443, externalPort: $port }] }) { id internalIp portRules { id ruleNumber externalPort } } }`;
const REPORT = `{ syncReport { inSync items { kind ruleNumber fields { field expected actual } } hairpin { ruleNumber state } } }`;
const ENV = { VYOS_HAIRPIN: 'on', VYOS_LAN_INTERFACE: 'eth1', VYOS_PUBLIC_ADDRESS: '203.0.113.10', VYOS_LAN_SUBNET: '192.168.64.0/24', VYOS_HAIRPIN_RULE_OFFSET: String(OFFSET), VYOS_HAIRPIN_SNAT_RULE: String(SNAT) };

function sourceRule(t: TestApp): Record<string, unknown> | undefined {
  const nat = t.sim.running().nat as { source?: { rule?: Record<string, Record<string, unknown>> } } | undefined;
  return nat?.source?.rule?.[String(SNAT)];
}

for (const version of ['1.4', 'rolling'] as const) {
  describe(`VYOS_HAIRPIN=on on ${version}`, () => {
    let t: TestApp;
    let port = 32100;
    const provision = async (name: string) => ok(await t.gql(PROVISION, { name, port: port++ })).provisionVm;
    before(async () => {
      t = await startTestApp({ sim: { version }, env: ENV });
    });
    after(async () => {
      await t?.close();
    });

    test('a port rule brings its twin on the LAN interface and the masquerade rule, in the same commit; the last one takes them away', async () => {
      const commits = t.sim.commitCount;
      const vm = await provision('web');
      const n = vm.portRules[0].ruleNumber;
      assert.equal(t.sim.commitCount, commits + 1, 'one commit');
      const twin = t.routerRules().find((r) => r.ruleNumber === n + OFFSET);
      assert.deepEqual(
        { ...twin, description: undefined },
        { ruleNumber: n + OFFSET, description: undefined, protocol: 'tcp', externalPort: String(vm.portRules[0].externalPort), destinationAddress: '203.0.113.10', inboundInterface: 'eth1', translationAddress: vm.internalIp, internalPort: '443', disabled: false },
      );
      assert.match(twin!.description!, /^hairpin: /);
      assert.deepEqual(sourceRule(t), {
        description: MASQUERADE_DESCRIPTION,
        destination: { address: '192.168.64.100-192.168.64.199' },
        'outbound-interface': { name: 'eth1' },
        source: { address: '192.168.64.0/24' },
        translation: { address: 'masquerade' },
      });
      const report = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual([report.inSync, report.hairpin], [true, { ruleNumber: SNAT, state: 'IN_PLACE' }]);

      // disabling the rule disables its twin; deleting the VM removes both and the masquerade rule
      ok(await t.gql(`mutation($id: ID!) { setPortRuleEnabled(id: $id, enabled: false) { id } }`, { id: vm.portRules[0].id }));
      assert.equal(t.routerRules().find((r) => r.ruleNumber === n + OFFSET)?.disabled, true);
      ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id }));
      assert.deepEqual(t.routerRules(), []);
      assert.equal(sourceRule(t), undefined);
    });

    test('a port range\'s twin carries the same range (docs/operations.md "Port ranges")', async () => {
      const vm = await provision('rtp');
      const range = ok(await t.gql(`mutation($vm: ID!) { addPortRule(vmId: $vm, input: { portCount: 20, protocol: UDP }) { id ruleNumber externalPort } }`, { vm: vm.id })).addPortRule;
      const twin = t.routerRules().find((r) => r.ruleNumber === range.ruleNumber + OFFSET);
      assert.deepEqual([twin?.externalPort, twin?.internalPort, twin?.protocol], [`${range.externalPort}-${range.externalPort + 19}`, undefined, 'udp']);
      assert.equal(ok(await t.gql(REPORT)).syncReport.inSync, true);
      ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id }));
      assert.equal(t.routerRules().find((r) => r.ruleNumber === range.ruleNumber + OFFSET), undefined);
    });

    test('a twin changed or deleted by hand is drift, and reconcile puts it back', async () => {
      const vm = await provision('db');
      const n = vm.portRules[0].ruleNumber;
      t.sim.apply([{ op: 'set', path: ['nat', 'destination', 'rule', String(n + OFFSET), 'destination', 'address', '198.51.100.1'] }]);
      const drifted = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual(
        drifted.items.map((i: { kind: string; ruleNumber: number; fields: { field: string }[] }) => [i.kind, i.ruleNumber, i.fields.map((f) => f.field)]),
        [['DRIFTED', n + OFFSET, ['destinationAddress']]],
      );
      t.sim.apply([{ op: 'delete', path: ['nat', 'source', 'rule', String(SNAT)] }]);
      assert.equal(ok(await t.gql(REPORT)).syncReport.hairpin.state, 'MISSING');
      ok(await t.gql(`mutation { reconcile { applied } }`));
      const fixed = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual([fixed.inSync, fixed.hairpin.state], [true, 'IN_PLACE']);
      assert.equal(t.routerRules().find((r) => r.ruleNumber === n + OFFSET)?.destinationAddress, '203.0.113.10');
    });

    test('a commit whose read-back fails is undone: rule, twin and masquerade rule together', async () => {
      // no port rule left: the next one brings the masquerade rule
      for (const e of ok(await t.gql(`{ vms(first: 50) { edges { node { id } } } }`)).vms.edges) ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: e.node.id }));
      assert.equal(sourceRule(t), undefined);
      const rulesBefore = JSON.stringify(t.routerRules());
      const sourceBefore = JSON.stringify(sourceRule(t));
      // the masquerade rule does not read back as written
      t.sim.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'source', 'rule', String(SNAT), 'source', 'address', '10.9.9.0/24'] }]);
      const res = await t.gql(PROVISION, { name: 'doomed', port: port++ });
      assert.equal(errorCode(res), 'ROUTER_REJECTED');
      assert.equal(JSON.stringify(t.routerRules()), rulesBefore, 'the rule and its twin were undone');
      assert.equal(JSON.stringify(sourceRule(t)), sourceBefore, 'the masquerade rule is gone again');
      assert.match(res.errors![0].message, /nat source rule 9000 is not as written/);
    });

    test("a rule of someone else's at a twin's number is never written over: CONFLICT, nothing changed", async () => {
      // every twin number the next rule could get holds an operator's rule
      const used = new Set(t.routerRules().map((r) => r.ruleNumber));
      const held = Array.from({ length: 100 }, (_, i) => 10_000 + i).filter((n) => !used.has(n)).map((n) => n + OFFSET);
      t.sim.apply(held.flatMap((n): RouterCommand[] => [
        { op: 'set', path: ['nat', 'destination', 'rule', String(n), 'description', 'ops'] },
        { op: 'set', path: ['nat', 'destination', 'rule', String(n), 'translation', 'address', '10.0.0.9'] },
        // on another interface, so it catches nothing the server allocates for the WAN
        { op: 'set', path: ['nat', 'destination', 'rule', String(n), 'inbound-interface', 'name', 'eth2'] },
      ]));
      const commits = t.sim.commitCount;
      const res = await t.gql(PROVISION, { name: 'blocked', port: port++ });
      assert.equal(errorCode(res), 'CONFLICT');
      assert.match(res.errors![0].message, /hairpin twin's number/);
      assert.equal(t.sim.commitCount, commits);
      assert.ok(held.every((n) => t.routerRules().find((r) => r.ruleNumber === n)?.description === 'ops'));
    });
  });
}

describe('hairpin per rule (docs/operations.md "Hairpin")', () => {
  const RULE = 'id ruleNumber hairpin';
  const ADD = `mutation($vm: ID!, $input: PortRuleInput!) { addPortRule(vmId: $vm, input: $input) { ${RULE} } }`;
  const UPDATE = `mutation($id: ID!, $input: UpdatePortRuleInput!) { updatePortRule(id: $id, input: $input) { ${RULE} } }`;
  const twinOfRule = (t: TestApp, n: number) => t.routerRules().find((r) => r.ruleNumber === n + OFFSET);

  test('a rule says hairpin: false, true, or null for the server default; its twin and the masquerade rule follow in the same commit', async () => {
    const t = await startTestApp({ sim: { version: '1.4' }, env: ENV });
    try {
      const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "mixed" }) { id } }`)).provisionVm;
      const off = ok(await t.gql(ADD, { vm: vm.id, input: { internalPort: 80, hairpin: false } })).addPortRule;
      assert.equal(off.hairpin, false);
      assert.equal(twinOfRule(t, off.ruleNumber), undefined, 'no twin');
      assert.equal(sourceRule(t), undefined, 'no rule has a twin: no masquerade rule');
      assert.deepEqual(ok(await t.gql(REPORT)).syncReport.hairpin, { ruleNumber: SNAT, state: 'IN_PLACE' });

      const byDefault = ok(await t.gql(ADD, { vm: vm.id, input: { internalPort: 81 } })).addPortRule;
      assert.equal(byDefault.hairpin, true, 'VYOS_HAIRPIN_DEFAULT is on');
      assert.ok(twinOfRule(t, byDefault.ruleNumber));
      assert.ok(sourceRule(t), 'the first rule with a twin brings the masquerade rule');

      // switched off: the twin and (no twin left) the masquerade rule go, in one commit
      const commits = t.sim.commitCount;
      assert.equal(ok(await t.gql(UPDATE, { id: byDefault.id, input: { hairpin: false } })).updatePortRule.hairpin, false);
      assert.equal(t.sim.commitCount, commits + 1);
      assert.equal(twinOfRule(t, byDefault.ruleNumber), undefined);
      assert.equal(sourceRule(t), undefined);
      // null: back to the default
      assert.equal(ok(await t.gql(UPDATE, { id: off.id, input: { hairpin: null } })).updatePortRule.hairpin, true);
      assert.ok(twinOfRule(t, off.ruleNumber));
      assert.ok(sourceRule(t));
      const report = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual([report.inSync, report.hairpin.state], [true, 'IN_PLACE']);
    } finally {
      await t.close();
    }
  });

  test('VYOS_HAIRPIN_DEFAULT=off: only the rules that ask for it get a twin', async () => {
    const t = await startTestApp({ sim: { version: 'rolling' }, env: { ...ENV, VYOS_HAIRPIN_DEFAULT: 'off' } });
    try {
      const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "opt-in", portRules: [{ internalPort: 22 }, { internalPort: 443, hairpin: true }] }) { portRules { ruleNumber hairpin } } }`)).provisionVm;
      const [plain, asked] = vm.portRules;
      assert.deepEqual([plain.hairpin, asked.hairpin], [false, true]);
      assert.equal(twinOfRule(t, plain.ruleNumber), undefined);
      assert.ok(twinOfRule(t, asked.ruleNumber));
      assert.equal(ok(await t.gql(REPORT)).syncReport.inSync, true);
    } finally {
      await t.close();
    }
  });

  test('without VYOS_HAIRPIN=on, hairpin: true is BAD_USER_INPUT and changes nothing; every rule reads hairpin: false', async () => {
    const t = await startTestApp({ sim: { version: '1.4' } });
    try {
      const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "plain", portRules: [{ internalPort: 22 }] }) { id portRules { id hairpin } } }`)).provisionVm;
      assert.equal(vm.portRules[0].hairpin, false);
      const commits = t.sim.commitCount;
      const res = await t.gql(ADD, { vm: vm.id, input: { internalPort: 80, hairpin: true } });
      assert.equal(errorCode(res), 'BAD_USER_INPUT');
      assert.match(res.errors![0].message, /input\.hairpin: hairpin needs VYOS_HAIRPIN=on/);
      assert.equal(errorCode(await t.gql(UPDATE, { id: vm.portRules[0].id, input: { hairpin: true } })), 'BAD_USER_INPUT');
      assert.equal(t.sim.commitCount, commits);
      assert.equal(t.routerRules().length, 1);
    } finally {
      await t.close();
    }
  });
});

describe('VYOS_HAIRPIN configuration', () => {
  test('on without the LAN interface, public address and subnet: every missing variable reported at once', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config.js');
    assert.throws(
      () => loadConfig({ VYOS_HAIRPIN: 'on' }),
      (e: unknown) => e instanceof ConfigError && ['VYOS_LAN_INTERFACE', 'VYOS_PUBLIC_ADDRESS', 'VYOS_LAN_SUBNET'].every((v) => e.message.includes(v)),
    );
  });
});
