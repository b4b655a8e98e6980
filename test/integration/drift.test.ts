// Drift end to end: rules changed by hand on the simulator as an operator would, then syncReport,
// reconcile in every mode, a rejected reconcile, and import. Real PostgreSQL, the simulator over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderDelete, renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const REPORT = `{ syncReport { checkedAt inSync items { kind ruleNumber portRule { id ruleNumber externalPort } routerRule {
  ruleNumber protocol externalPort internalPort translationAddress sourceAddress description inboundInterface disabled } fields { field expected actual } } } }`;
const RECONCILE = `mutation($mode: ReconcileMode, $dryRun: Boolean) { reconcile(mode: $mode, dryRun: $dryRun) {
  mode dryRun applied commands { op path } report { inSync items { kind ruleNumber fields { field expected actual } } } } }`;
const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id internalIp portRules { id ruleNumber externalPort internalPort protocol } } }`;

type Item = { kind: string; ruleNumber: number; portRule: { id: string } | null; routerRule: RouterRule | null; fields: { field: string; expected: string | null; actual: string | null }[] };

/** An operator's own rule, in the router's 1.4+ syntax (the simulator runs rolling). */
const byHand = (rule: RouterRule) => renderRule(rule, { syntax: '1.4' });

/** The set lines of one rule number on the router (to prove a rule was left alone). */
const linesOf = (t: TestApp, n: number) => t.sim.commands().filter((l) => l.startsWith(`set nat destination rule ${n} `));

describe('drift: syncReport, reconcile, import', () => {
  let t: TestApp;
  let vm: { id: string; internalIp: string; portRules: { id: string; ruleNumber: number; externalPort: number; internalPort: number }[] };
  // the four rules of the VM, by role in the scenario
  let deleted: number, described: number, retargeted: number;
  let shadowedPort: number;
  const UNMANAGED = 15000;
  const FOREIGN = 500;
  const SHADOWER = 100;

  async function report(key?: string): Promise<{ inSync: boolean; items: Item[] }> {
    return ok(await t.gql(REPORT, {}, key ? { key } : {})).syncReport;
  }

  /** The operator's edits, made directly on the router, never through the API. */
  function driftByHand(): void {
    t.sim.apply([
      renderDelete(deleted),
      { op: 'set', path: ['nat', 'destination', 'rule', String(described), 'description', 'edited on the router'] },
      { op: 'set', path: ['nat', 'destination', 'rule', String(retargeted), 'translation', 'port', '2222'] },
      ...byHand({ ruleNumber: UNMANAGED, protocol: 'tcp', externalPort: '32999', translationAddress: '192.168.64.150', internalPort: '80', inboundInterface: 'eth0', disabled: false }),
    ]);
  }

  before(async () => {
    t = await startTestApp();
    vm = ok(
      await t.gql(PROVISION, {
        input: {
          name: 'web',
          portRules: [
            { internalPort: 80, description: 'http' },
            { internalPort: 443, description: 'https' },
            { internalPort: 22 },
            { internalPort: 53, protocol: 'UDP', externalPort: 32053 },
          ],
        },
      }),
    ).provisionVm;
    [deleted, described, retargeted] = vm.portRules.map((r) => r.ruleNumber);
    shadowedPort = vm.portRules[3].externalPort;
    // Foreign rules outside NAT_RULE_RANGE: one harmless, one catching our UDP port first.
    t.sim.apply([
      ...byHand({ ruleNumber: FOREIGN, description: 'ops ssh', protocol: 'tcp', externalPort: '2200', translationAddress: '10.0.0.5', internalPort: '22', disabled: false }),
      ...byHand({ ruleNumber: SHADOWER, description: 'ops dns', protocol: 'tcp_udp', externalPort: `53,${shadowedPort}`, translationAddress: '10.0.0.53', disabled: false }),
    ]);
  });
  after(async () => {
    await t?.close();
  });

  test('syncReport reports each hand-made change with the right kind and fields, and nothing about the foreign rule', async () => {
    const before = await report();
    assert.equal(before.inSync, false, 'the shadowing rule is already there');
    assert.deepEqual(before.items.map((i) => i.kind), ['SHADOWED']);

    driftByHand();
    const viewer = await createKey(t, 'VIEWER');
    const r = await report(viewer);
    assert.equal(r.inSync, false);
    const byKind = (kind: string) => r.items.filter((i) => i.kind === kind);

    const missing = byKind('MISSING_ON_ROUTER');
    assert.deepEqual(missing.map((i) => i.ruleNumber), [deleted]);
    assert.equal(missing[0].portRule?.id, vm.portRules[0].id);
    assert.equal(missing[0].routerRule, null);

    const drifted = byKind('DRIFTED');
    assert.deepEqual(drifted.map((i) => [i.ruleNumber, i.fields]), [
      [described, [{ field: 'description', expected: 'https', actual: 'edited on the router' }]],
      [retargeted, [{ field: 'internalPort', expected: '22', actual: '2222' }]],
    ]);
    assert.equal(drifted[1].routerRule?.internalPort, '2222');

    const unmanaged = byKind('UNMANAGED_ON_ROUTER');
    assert.deepEqual(unmanaged.map((i) => [i.ruleNumber, i.portRule, i.routerRule?.translationAddress]), [[UNMANAGED, null, '192.168.64.150']]);

    const shadow = byKind('SHADOWED');
    assert.equal(shadow.length, 1);
    assert.equal(shadow[0].ruleNumber, SHADOWER);
    assert.equal(shadow[0].portRule?.id, vm.portRules[3].id);
    assert.deepEqual(shadow[0].fields, [
      { field: 'externalPort', expected: String(shadowedPort), actual: `53,${shadowedPort}` },
      { field: 'protocol', expected: 'udp', actual: 'tcp_udp' },
    ]);

    assert.ok(!r.items.some((i) => i.ruleNumber === FOREIGN), 'a foreign rule outside the range is never reported');
  });

  test('reconcile needs ADMIN; a VIEWER may read the report', async () => {
    const operator = await createKey(t, 'OPERATOR');
    assert.equal(errorCode(await t.gql(RECONCILE, { mode: 'MERGED' }, { key: operator })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(REPORT, {}, { key: null })), 'UNAUTHENTICATED');
  });

  test('dryRun lists the exact commands of each mode and changes nothing on the router', async () => {
    const config = t.sim.commands();
    const commits = t.sim.commitCount;
    const plans: Record<string, string[]> = {};
    for (const mode of ['MERGED', 'REPLACED', 'OVERRIDDEN']) {
      const res = ok(await t.gql(RECONCILE, { mode, dryRun: true })).reconcile;
      assert.equal(res.dryRun, true);
      assert.equal(res.applied, false);
      assert.equal(res.report.inSync, false);
      plans[mode] = res.commands.map((c: { op: string; path: string[] }) => `${c.op} ${c.path.slice(3).join(' ')}`);
    }
    assert.deepEqual(t.sim.commands(), config, 'router config unchanged');
    assert.equal(t.sim.commitCount, commits, 'no commit');

    const touched = (lines: string[]) => [...new Set(lines.map((l) => Number(l.split(' ')[1])))].sort((a, b) => a - b);
    assert.deepEqual(touched(plans.MERGED), [deleted]);
    assert.ok(plans.MERGED.every((l) => l.startsWith('set ')), 'MERGED only creates');
    assert.deepEqual(touched(plans.REPLACED), [deleted, described, retargeted]);
    assert.ok(plans.REPLACED.includes(`delete ${described}`) && plans.REPLACED.includes(`set ${described} description https`));
    assert.deepEqual(touched(plans.OVERRIDDEN), [deleted, described, retargeted, UNMANAGED]);
    assert.ok(plans.OVERRIDDEN.includes(`delete ${UNMANAGED}`));
    for (const plan of Object.values(plans)) {
      assert.ok(!touched(plan).some((n) => n === FOREIGN || n === SHADOWER), 'foreign rules are never in a plan');
    }
    // The default mode is REPLACED.
    const dflt = ok(await t.gql(`mutation { reconcile(dryRun: true) { mode commands { op } } }`)).reconcile;
    assert.equal(dflt.mode, 'REPLACED');
    assert.equal(dflt.commands.length, plans.REPLACED.length);
  });

  test('a reconcile whose commit the router rejects changes nothing and records a RollbackEvent', async () => {
    const config = t.sim.commands();
    t.sim.faults.rejectNextCommit();
    const res = await t.gql(RECONCILE, { mode: 'OVERRIDDEN' });
    assert.equal(errorCode(res), 'ROUTER_REJECTED');
    assert.deepEqual(t.sim.commands(), config, 'router config unchanged');
    const events = ok(await t.gql(`{ rollbackEvents(first: 5) { edges { node { operation stage outcome commands { op path } } } } }`)).rollbackEvents.edges;
    const ev = events.find((e: { node: { operation: string } }) => e.node.operation === 'reconcile');
    assert.ok(ev, 'a rollback event for the reconcile');
    assert.equal(ev.node.stage, 'ROUTER_COMMIT');
    assert.equal(ev.node.outcome, 'ROLLED_BACK');
    assert.ok(ev.node.commands.some((c: { path: string[] }) => c.path[3] === String(UNMANAGED)));
    const r = await report();
    assert.deepEqual(r.items.map((i) => i.kind).sort(), ['DRIFTED', 'DRIFTED', 'MISSING_ON_ROUTER', 'SHADOWED', 'UNMANAGED_ON_ROUTER']);
  });

  test('MERGED creates the missing rule and changes nothing else', async () => {
    const foreign = [linesOf(t, FOREIGN), linesOf(t, SHADOWER)];
    const unmanaged = linesOf(t, UNMANAGED);
    const res = ok(await t.gql(RECONCILE, { mode: 'MERGED' })).reconcile;
    assert.equal(res.applied, true);
    assert.deepEqual(res.report.items.map((i: Item) => [i.kind, i.ruleNumber]), [
      ['SHADOWED', SHADOWER],
      ['DRIFTED', described],
      ['DRIFTED', retargeted],
      ['UNMANAGED_ON_ROUTER', UNMANAGED],
    ]);
    const onRouter = t.routerRules().find((r) => r.ruleNumber === deleted);
    assert.equal(onRouter?.description, 'http');
    assert.equal(onRouter?.translationAddress, vm.internalIp);
    assert.deepEqual(linesOf(t, UNMANAGED), unmanaged);
    assert.deepEqual([linesOf(t, FOREIGN), linesOf(t, SHADOWER)], foreign);
  });

  test('REPLACED also rewrites the drifted rules', async () => {
    const foreign = [linesOf(t, FOREIGN), linesOf(t, SHADOWER)];
    const res = ok(await t.gql(RECONCILE, { mode: 'REPLACED' })).reconcile;
    assert.deepEqual(res.report.items.map((i: Item) => [i.kind, i.ruleNumber]), [
      ['SHADOWED', SHADOWER],
      ['UNMANAGED_ON_ROUTER', UNMANAGED],
    ]);
    const rules = new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
    assert.equal(rules.get(described)?.description, 'https');
    assert.equal(rules.get(retargeted)?.internalPort, '22');
    assert.ok(rules.has(UNMANAGED), 'REPLACED leaves unmanaged rules');
    assert.deepEqual([linesOf(t, FOREIGN), linesOf(t, SHADOWER)], foreign);
  });

  test('OVERRIDDEN deletes the unmanaged rule in the range; afterwards only SHADOWED remains; foreign rules untouched', async () => {
    driftByHand(); // all four kinds again
    const foreign = [linesOf(t, FOREIGN), linesOf(t, SHADOWER)];
    const res = ok(await t.gql(RECONCILE, { mode: 'OVERRIDDEN' })).reconcile;
    assert.equal(res.applied, true);
    assert.deepEqual(res.report.items.map((i: Item) => i.kind), ['SHADOWED']);
    assert.ok(!t.routerRules().some((r) => r.ruleNumber === UNMANAGED));
    assert.deepEqual([linesOf(t, FOREIGN), linesOf(t, SHADOWER)], foreign);
    // Nothing left to do: a second reconcile makes no commit.
    const commits = t.sim.commitCount;
    const again = ok(await t.gql(RECONCILE, { mode: 'OVERRIDDEN' })).reconcile;
    assert.equal(again.applied, false);
    assert.deepEqual(again.commands, []);
    assert.equal(t.sim.commitCount, commits);
  });

  test('a change in flight is not reported as drift (the report waits for the batch)', async () => {
    t.sim.setCommitLatency(400);
    try {
      const provision = t.gql(PROVISION, { input: { name: 'in-flight', portRules: [{ internalPort: 8080 }, { internalPort: 8443 }] } });
      // Let the batch reach the router commit, then ask for the report while it runs.
      await new Promise((r) => setTimeout(r, 150));
      const r = await report();
      const created = ok(await provision).provisionVm;
      assert.deepEqual(r.items.map((i) => i.kind), ['SHADOWED'], 'the new rules are neither MISSING nor UNMANAGED');
      assert.equal(created.portRules.length, 2);
    } finally {
      t.sim.setCommitLatency(0);
    }
  });

  test('importRouterRules adopts hand-made rules (dry run first), lists the ones it cannot, and the report is then in sync', async () => {
    const IMPORT = `mutation($dryRun: Boolean, $createVms: Boolean) { importRouterRules(dryRun: $dryRun, createVms: $createVms) {
      dryRun adopted { ruleNumber vmName vmCreated portRule { id ruleNumber protocol externalPort internalPort sourceAddress description enabled vm { name internalIp } } }
      skipped { ruleNumber reason } commands { op path } report { inSync items { kind ruleNumber } } } }`;
    t.sim.apply([
      // for the existing VM: a disabled UDP rule with a source address and no translation port
      ...byHand({ ruleNumber: 16000, description: 'syslog', protocol: 'udp', externalPort: '32514', translationAddress: vm.internalIp, sourceAddress: '198.51.100.0/24', inboundInterface: 'eth0', disabled: true }),
      // for an address no VM has
      ...byHand({ ruleNumber: 16001, protocol: 'tcp', externalPort: '32600', translationAddress: '192.168.64.150', internalPort: '80', inboundInterface: 'eth0', disabled: false }),
      // a port list: our model has one port per rule
      ...byHand({ ruleNumber: 16002, protocol: 'tcp', externalPort: '32700,32701', translationAddress: vm.internalIp, internalPort: '80', inboundInterface: 'eth0', disabled: false }),
    ]);

    const config = t.sim.commands();
    const dry = ok(await t.gql(IMPORT, { dryRun: true })).importRouterRules;
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.adopted.map((a: { ruleNumber: number; portRule: unknown }) => [a.ruleNumber, a.portRule]), [[16000, null]]);
    assert.deepEqual(dry.skipped.map((s: { ruleNumber: number }) => s.ruleNumber), [16001, 16002]);
    assert.match(dry.skipped[0].reason, /no VM has internal IP 192\.168\.64\.150/);
    assert.match(dry.skipped[1].reason, /not a single port/);
    assert.deepEqual(t.sim.commands(), config, 'a dry run changes nothing');

    const res = ok(await t.gql(IMPORT, { createVms: true })).importRouterRules;
    assert.deepEqual(res.adopted.map((a: { ruleNumber: number; vmName: string; vmCreated: boolean }) => [a.ruleNumber, a.vmName, a.vmCreated]), [
      [16000, 'web', false],
      [16001, 'imported-192-168-64-150', true],
    ]);
    const syslog = res.adopted[0].portRule;
    assert.deepEqual(
      { ...syslog, id: undefined },
      { id: undefined, ruleNumber: 16000, protocol: 'UDP', externalPort: 32514, internalPort: 32514, sourceAddress: '198.51.100.0/24', description: 'syslog', enabled: false, vm: { name: 'web', internalIp: vm.internalIp } },
    );
    assert.deepEqual(res.skipped.map((s: { ruleNumber: number }) => s.ruleNumber), [16002]);
    // Only the unadoptable rule (and the foreign shadowing rule) remain in the report.
    assert.deepEqual(res.report.items.map((i: Item) => [i.kind, i.ruleNumber]), [
      ['SHADOWED', SHADOWER],
      ['UNMANAGED_ON_ROUTER', 16002],
    ]);
    // The adopted rules are still on the router, kept (not deleted and re-created elsewhere).
    const rules = new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
    assert.equal(rules.get(16000)?.sourceAddress, '198.51.100.0/24');
    assert.equal(rules.get(16000)?.disabled, true);
    assert.equal(rules.get(16001)?.translationAddress, '192.168.64.150');

    // The adopted rules are now managed: removing one through the API removes it from the router.
    ok(await t.gql(`mutation($id: ID!) { removePortRule(id: $id) }`, { id: syslog.id }));
    assert.ok(!t.routerRules().some((r) => r.ruleNumber === 16000));

    // After removing the last unadoptable rule by hand, the report is in sync but for SHADOWED.
    t.sim.apply([renderDelete(16002)]);
    assert.deepEqual((await report()).items.map((i) => i.kind), ['SHADOWED']);
    t.sim.apply([renderDelete(SHADOWER)]);
    assert.equal((await report()).inSync, true);
  });

  test('a router that cannot be reached: syncReport fails with ROUTER_UNAVAILABLE and nothing changes', async () => {
    await t.sim.faults.setUnreachable(true);
    try {
      assert.equal(errorCode(await t.gql(REPORT)), 'ROUTER_UNAVAILABLE');
      assert.equal(errorCode(await t.gql(RECONCILE, { mode: 'MERGED', dryRun: true })), 'ROUTER_UNAVAILABLE');
    } finally {
      await t.sim.faults.setUnreachable(false);
    }
    assert.equal((await report()).inSync, true);
  });
});
