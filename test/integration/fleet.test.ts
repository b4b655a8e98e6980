// A fleet of routers (issue 18; docs/operations.md "A fleet of routers"): three simulators over
// real HTTP behind one server on real PostgreSQL. Each router is its own transaction domain:
// placement, per-router uniqueness, one router's outage failing only its own changes, drift per
// router, per-router metrics and health, and the router lifecycle (register, drain, retire).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { parseNatDestination, renderDelete } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { parseMetrics, value, has } from '../support/metrics.js';
import { createKey, errorCode, ok, sql, sqlAt, startTestApp, type TestApp } from '../support/app.js';

const REGISTER = `mutation($input: RegisterRouterInput!) { registerRouter(input: $input) { name url credential lifecycle driven lanPool fromEnvironment } }`;
const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id name router internalIp portRules { id ruleNumber externalPort } } }`;
const ADD_RULE = `mutation($vm: ID!, $p: Port) { addPortRule(vmId: $vm, input: { protocol: TCP, internalPort: 8080, externalPort: $p }) { id ruleNumber externalPort vm { router } } }`;
const REPORT = `query($r: String) { syncReport(router: $r) { router inSync items { kind ruleNumber } } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The NAT destination rules a simulator holds, by number. */
function rulesOn(sim: Simulator): Map<number, RouterRule> {
  const root = sim.running() as { nat?: { destination?: unknown } };
  return new Map(parseNatDestination(root.nat?.destination ?? null).map((r) => [r.ruleNumber, r]));
}

describe('a fleet of three routers behind one server', () => {
  let t: TestApp;
  let b: Simulator;
  let c: Simulator;
  before(async () => {
    process.env.FLEET_TEST_KEY_B = 'key-b';
    process.env.FLEET_TEST_KEY_C = 'key-c';
    [b, c] = await Promise.all([startSimulator({ keys: ['key-b'], version: 'rolling' }), startSimulator({ keys: ['key-c'], version: '1.4' })]);
    t = await startTestApp({ env: { ROUTER_NAME: 'home', LAN_POOL: '10.0.0.10-10.0.0.20', EXTERNAL_PORT_RANGE: '40000-40100' } });
  });
  after(async () => {
    await t?.close();
    await Promise.all([b?.close(), c?.close()]);
  });

  test('registerRouter: validated, never stores or returns the key, and the router is driven at once', async () => {
    // Bad input changes nothing.
    const bad = [
      { name: 'B', url: b.url, credential: 'env:FLEET_TEST_KEY_B' },
      { name: 'b', url: 'ftp://x', credential: 'env:FLEET_TEST_KEY_B' },
      { name: 'b', url: b.url, credential: 'key-b' },
      { name: 'b', url: b.url, credential: 'env:FLEET_TEST_NOT_SET' },
      { name: 'b', url: b.url, credential: 'env:FLEET_TEST_KEY_B', lanPool: '10.0.0.9' },
    ];
    for (const input of bad) assert.equal(errorCode(await t.gql(REGISTER, { input })), 'BAD_USER_INPUT', JSON.stringify(input));
    assert.equal((await sql(t, 'select count(*)::int as n from router')).rows[0].n, 1);
    const operator = await createKey(t, 'OPERATOR');
    assert.equal(errorCode(await t.gql(REGISTER, { input: { name: 'b', url: b.url, credential: 'env:FLEET_TEST_KEY_B' } }, { key: operator })), 'FORBIDDEN');

    // The same LAN pool as home's: two routers' LANs are separate networks.
    const rb = ok(await t.gql(REGISTER, { input: { name: 'b', url: b.url, credential: 'env:FLEET_TEST_KEY_B', lanPool: '10.0.0.10-10.0.0.20', externalPortRange: '40000-40100' } })).registerRouter;
    assert.deepEqual(rb, { name: 'b', url: b.url, credential: 'env:FLEET_TEST_KEY_B', lifecycle: 'ENABLED', driven: true, lanPool: '10.0.0.10-10.0.0.20', fromEnvironment: false });
    // c has the largest pool: placement prefers it
    ok(await t.gql(REGISTER, { input: { name: 'c', url: c.url, credential: 'env:FLEET_TEST_KEY_C', lanPool: '10.1.0.10-10.1.0.90', syntax: '1.4' } }));
    assert.equal(errorCode(await t.gql(REGISTER, { input: { name: 'c', url: c.url, credential: 'env:FLEET_TEST_KEY_C' } })), 'CONFLICT');
    // one router is registered once: a second row for the same API would write it concurrently
    assert.equal(errorCode(await t.gql(REGISTER, { input: { name: 'again', url: `${t.sim.url}/`, credential: 'env:FLEET_TEST_KEY_B' } })), 'CONFLICT');

    const listed = ok(await t.gql(`{ routers { name driven capabilities { version } } }`)).routers;
    assert.deepEqual(listed.map((r: { name: string; driven: boolean }) => [r.name, r.driven]), [['b', true], ['c', true], ['home', true]]);
    assert.ok(listed.every((r: { capabilities: unknown }) => r.capabilities), 'each router answers with its own capabilities');
    const rows = JSON.stringify((await sql(t, 'select * from router')).rows);
    assert.equal(rows.includes('key-b') || rows.includes('key-c'), false, 'no key in the database');
  });

  test('VMs are placed on the named router, or by the most free LAN addresses; the same address and port live on two routers', async () => {
    const onHome = ok(await t.gql(PROVISION, { input: { name: 'h1', router: 'home', internalIp: '10.0.0.10', portRules: [{ protocol: 'TCP', internalPort: 22, externalPort: 40000 }] } })).provisionVm;
    const onB = ok(await t.gql(PROVISION, { input: { name: 'b1', router: 'b', internalIp: '10.0.0.10', portRules: [{ protocol: 'TCP', internalPort: 22, externalPort: 40000 }] } })).provisionVm;
    assert.equal(onHome.router, 'home');
    assert.equal(onB.router, 'b');
    // each router holds its own VM's rule, and only that
    const homeRule = rulesOn(t.sim).get(onHome.portRules[0].ruleNumber);
    const bRule = rulesOn(b).get(onB.portRules[0].ruleNumber);
    assert.equal(homeRule?.translationAddress, '10.0.0.10');
    assert.equal(bRule?.translationAddress, '10.0.0.10');
    assert.equal(rulesOn(t.sim).size, 1);
    assert.equal(rulesOn(b).size, 1);
    // the same address twice on one router is still refused
    assert.equal(errorCode(await t.gql(PROVISION, { input: { name: 'b2', router: 'b', internalIp: '10.0.0.10' } })), 'CONFLICT');

    const placed = ok(await t.gql(PROVISION, { input: { name: 'p1', portRules: [{ protocol: 'TCP', internalPort: 80 }] } })).provisionVm;
    assert.equal(placed.router, 'c', 'c has the most free addresses');
    assert.match(placed.internalIp, /^10\.1\.0\./, "allocated from c's own pool");
    assert.equal(rulesOn(c).size, 1);
    assert.equal(errorCode(await t.gql(PROVISION, { input: { name: 'x1', router: 'nowhere' } })), 'NOT_FOUND');

    // rules added to a VM go to its router
    const added = ok(await t.gql(ADD_RULE, { vm: onB.id, p: 40001 })).addPortRule;
    assert.equal(added.vm.router, 'b');
    assert.ok(rulesOn(b).has(added.ruleNumber));
    assert.equal(rulesOn(t.sim).has(added.ruleNumber) && rulesOn(t.sim).get(added.ruleNumber)?.externalPort === '40001', false);

    // applyVm converges an existing VM on its own router, and refuses to move it
    const applied = ok(await t.gql(`mutation { applyVm(input: { name: "b1", portRules: [{ name: "ssh", protocol: TCP, internalPort: 22, externalPort: 40000 }] }) { vm { router } } }`)).applyVm;
    assert.equal(applied.vm.router, 'b');
    assert.equal(errorCode(await t.gql(`mutation { applyVm(input: { name: "b1", router: "c", portRules: [] }) { vm { id } } }`)), 'CONFLICT');
    const fresh = ok(await t.gql(`mutation { applyVm(input: { name: "a1", router: "b", portRules: [{ name: "web", protocol: TCP, internalPort: 80 }] }) { vm { router } } }`)).applyVm;
    assert.equal(fresh.vm.router, 'b');
  });

  test('one router down fails only its own changes; the others keep committing meanwhile', async () => {
    const vms = ok(await t.gql(`{ vms(first: 50) { edges { node { id name router } } } }`)).vms.edges.map((e: { node: { id: string; name: string; router: string } }) => e.node);
    const on = (r: string) => vms.find((v: { router: string }) => v.router === r)!.id;
    await b.faults.setUnreachable(true);
    try {
      const [down, home, onC] = await Promise.all([
        t.gql(ADD_RULE, { vm: on('b'), p: null }),
        t.gql(ADD_RULE, { vm: on('home'), p: null }),
        t.gql(ADD_RULE, { vm: on('c'), p: null }),
      ]);
      assert.equal(errorCode(down), 'ROUTER_UNAVAILABLE');
      assert.equal(ok(home).addPortRule.vm.router, 'home');
      assert.equal(ok(onC).addPortRule.vm.router, 'c');
      const health = ok(await t.gql(`{ health { status routers { name status } } }`)).health;
      const listed = ok(await t.gql(`{ routers { name health { status router { status } } } }`)).routers;
      assert.deepEqual(listed.map((r: { name: string; health: { status: string } }) => [r.name, r.health.status === 'down']), [['b', true], ['c', false], ['home', false]]);
      assert.equal(health.status, 'degraded', 'one router of three down: degraded, not down');
      assert.deepEqual(health.routers.map((r: { name: string; status: string }) => [r.name, r.status === 'down']), [['home', false], ['b', true], ['c', false]]);
      const m = parseMetrics(await (await fetch(`${t.url}/metrics`)).text());
      assert.equal(value(m, 'vyos_vm_api_router_up', { router: 'b' }), 0);
      assert.equal(value(m, 'vyos_vm_api_router_up', { router: 'c' }), 1);
      assert.ok(value(m, 'vyos_vm_api_router_calls_total', { router: 'b', outcome: 'UNREACHABLE' }) >= 1);
      assert.equal(value(m, 'vyos_vm_api_router_calls_total', { router: 'c', outcome: 'UNREACHABLE' }), 0);
      assert.ok(value(m, 'vyos_vm_api_batches_total', { router: 'c', outcome: 'committed' }) >= 2);
      assert.ok(has(m, 'vyos_vm_api_pool_free', { router: 'b', pool: 'lan_address' }));
    } finally {
      await b.faults.setUnreachable(false);
    }
    // nothing half-done on b: its database rows and its router agree
    assert.equal(ok(await t.gql(REPORT, { r: 'b' })).syncReport.inSync, true);
  });

  test('a slow router holds up only its own queue', async () => {
    const vms = ok(await t.gql(`{ vms(first: 50) { edges { node { id router } } } }`)).vms.edges.map((e: { node: { id: string; router: string } }) => e.node);
    const on = (r: string) => vms.find((v: { router: string }) => v.router === r)!.id;
    b.faults.holdNextCommit(4000);
    let slowDone = false;
    const slow = t.gql(ADD_RULE, { vm: on('b'), p: null }).then((r) => ((slowDone = true), r));
    await new Promise((r) => setTimeout(r, 200));
    ok(await t.gql(ADD_RULE, { vm: on('c'), p: null }));
    assert.equal(slowDone, false, "c's change committed while b's commit was still held");
    ok(await slow);
  });

  test('drift is per router: syncReport(router:) and reconcile(router:) see and repair only that router', async () => {
    const cRules = [...rulesOn(c).keys()];
    c.apply([renderDelete(cRules[0])]);
    const [home, onB, onC] = await Promise.all(['home', 'b', 'c'].map(async (r) => ok(await t.gql(REPORT, { r })).syncReport));
    assert.deepEqual([home.router, home.inSync], ['home', true]);
    assert.deepEqual([onB.router, onB.inSync], ['b', true]);
    assert.deepEqual([onC.router, onC.inSync], ['c', false]);
    assert.deepEqual(onC.items, [{ kind: 'MISSING_ON_ROUTER', ruleNumber: cRules[0] }]);
    assert.equal(ok(await t.gql(REPORT, {})).syncReport.router, 'home', 'no router: the environment\'s');
    const fixed = ok(await t.gql(`mutation { reconcile(router: "c") { report { router inSync } } }`)).reconcile;
    assert.deepEqual(fixed.report, { router: 'c', inSync: true });
    assert.ok(rulesOn(c).has(cRules[0]));
    assert.equal(errorCode(await t.gql(REPORT, { r: 'nowhere' })), 'NOT_FOUND');
  });

  test('snapshots are per router', async () => {
    const snap = ok(await t.gql(`mutation { takeSnapshot(reason: "before maintenance", router: "b") { id router } }`)).takeSnapshot;
    assert.equal(snap.router, 'b');
    const listed = ok(await t.gql(`{ snapshots(router: "b") { id router } }`)).snapshots;
    assert.deepEqual(listed.map((s: { id: string }) => s.id), [snap.id]);
    assert.equal(ok(await t.gql(`{ snapshots(router: "c") { id } }`)).snapshots.length, 0);
  });

  test('lifecycle: a draining router keeps its VMs and takes no new ones; retiring needs it empty', async () => {
    const drained = ok(await t.gql(`mutation { updateRouter(name: "c", input: { lifecycle: DRAINING }) { lifecycle } }`)).updateRouter;
    assert.equal(drained.lifecycle, 'DRAINING');
    assert.equal(errorCode(await t.gql(PROVISION, { input: { name: 'd1', router: 'c' } })), 'CONFLICT');
    const placed = ok(await t.gql(PROVISION, { input: { name: 'd2' } })).provisionVm;
    assert.notEqual(placed.router, 'c');
    // its VMs still change
    const onC = ok(await t.gql(`{ vms(filter: { router: "c" }) { edges { node { id } } } }`)).vms.edges.map((e: { node: { id: string } }) => e.node.id);
    ok(await t.gql(ADD_RULE, { vm: onC[0], p: null }));
    // the environment's router changes only its lifecycle; ranges must keep what is in use
    assert.equal(errorCode(await t.gql(`mutation { updateRouter(name: "home", input: { url: "http://127.0.0.1:1" }) { name } }`)), 'CONFLICT');
    assert.equal(errorCode(await t.gql(`mutation { updateRouter(name: "b", input: { lanPool: "10.0.0.15-10.0.0.20" }) { name } }`)), 'CONFLICT');
    // updateRouter restarts the unit with the new settings: a wrong key now fails b's changes, the right one mends them
    const onB = ok(await t.gql(`{ vms(filter: { router: "b" }, first: 1) { edges { node { id } } } }`)).vms.edges[0].node.id;
    process.env.FLEET_TEST_KEY_WRONG = 'not-the-key';
    ok(await t.gql(`mutation { updateRouter(name: "b", input: { credential: "env:FLEET_TEST_KEY_WRONG" }) { credential } }`));
    assert.equal(errorCode(await t.gql(ADD_RULE, { vm: onB, p: null })), 'ROUTER_UNAVAILABLE');
    ok(await t.gql(`mutation { updateRouter(name: "b", input: { credential: "env:FLEET_TEST_KEY_B" }) { credential } }`));
    assert.equal(ok(await t.gql(ADD_RULE, { vm: onB, p: null })).addPortRule.vm.router, 'b');
    // a row this replica cannot use (another replica wrote a reference whose variable only it has):
    // b's changes answer ROUTER_UNAVAILABLE here, saying why, and the others are untouched
    await sql(t, "update router set key_ref = 'env:FLEET_TEST_ONLY_ELSEWHERE', updated_at = now() where name = 'b'");
    let refused = await t.gql(ADD_RULE, { vm: onB, p: null });
    for (let i = 0; i < 40 && !refused.errors; i++) {
      await sleep(250);
      refused = await t.gql(ADD_RULE, { vm: onB, p: null });
    }
    assert.equal(errorCode(refused), 'ROUTER_UNAVAILABLE');
    assert.match(refused.errors![0].message, /credential reference is not usable here/);
    assert.equal(ok(await t.gql(`{ routers { name driven } }`)).routers.find((r: { name: string }) => r.name === 'b').driven, false);
    ok(await t.gql(`mutation { updateRouter(name: "b", input: { credential: "env:FLEET_TEST_KEY_B" }) { credential } }`));
    assert.equal(ok(await t.gql(ADD_RULE, { vm: onB, p: null })).addPortRule.vm.router, 'b');
    assert.equal(errorCode(await t.gql(`mutation { retireRouter(name: "c") }`)), 'CONFLICT');
    for (const id of onC) ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id }));
    assert.equal(ok(await t.gql(`mutation { retireRouter(name: "c") }`)).retireRouter, 'c');
    assert.deepEqual(ok(await t.gql(`{ routers { name } }`)).routers.map((r: { name: string }) => r.name), ['b', 'home']);
    const m = parseMetrics(await (await fetch(`${t.url}/metrics`)).text());
    assert.equal(m.some((x) => x.labels.router === 'c'), false, "a retired router's series are gone");
    assert.ok(has(m, 'vyos_vm_api_batches_total', { router: 'b' }), 'the others keep theirs');
    assert.deepEqual(ok(await t.gql(`{ health { routers { name } } }`)).health.routers.map((r: { name: string }) => r.name), ['home', 'b']);
    assert.equal(errorCode(await t.gql(`mutation { retireRouter(name: "home") }`)), 'CONFLICT');
  });
});


describe('a fleet across replicas and crashes', () => {
  test('two replicas, three routers: concurrent provisioning never duplicates an address, port or rule number on any router', async () => {
    process.env.FLEET_TEST_KEY_B = 'key-b';
    process.env.FLEET_TEST_KEY_C = 'key-c';
    const [b, c] = await Promise.all([startSimulator({ keys: ['key-b'] }), startSimulator({ keys: ['key-c'] })]);
    const env = { ROUTER_NAME: 'home', LAN_POOL: '10.0.0.10-10.0.0.40', EXTERNAL_PORT_RANGE: '40000-40200' };
    const one = await startTestApp({ env });
    const two = await startTestApp({ env, db: one.db, simulator: one.sim });
    try {
      for (const [name, sim, key] of [['b', b, 'FLEET_TEST_KEY_B'], ['c', c, 'FLEET_TEST_KEY_C']] as const) {
        ok(await one.gql(REGISTER, { input: { name, url: sim.url, credential: `env:${key}`, lanPool: '10.0.0.10-10.0.0.40', externalPortRange: '40000-40200' } }));
      }
      // 30 at once, spread over both replicas and all three routers; no address or port given
      const routers = ['home', 'b', 'c'];
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? two : one).gql(PROVISION, { input: { name: `r-${i}`, router: routers[i % 3], portRules: [{ protocol: 'TCP', internalPort: 22 }, { protocol: 'TCP', internalPort: 80 }] } }, { key: one.adminKey }),
        ),
      );
      const vms = answers.map((a) => ok(a).provisionVm);
      for (const [i, name] of routers.entries()) {
        const on = vms.filter((v) => v.router === name);
        assert.equal(on.length, 10, `10 VMs on ${name}`);
        const ips = on.map((v) => v.internalIp);
        const rules = on.flatMap((v) => v.portRules);
        assert.equal(new Set(ips).size, 10, `distinct addresses on ${name}`);
        assert.equal(new Set(rules.map((r: { ruleNumber: number }) => r.ruleNumber)).size, 20, `distinct rule numbers on ${name}`);
        assert.equal(new Set(rules.map((r: { externalPort: number }) => r.externalPort)).size, 20, `distinct external ports on ${name}`);
        const sim = [one.sim, b, c][i];
        assert.equal(rulesOn(sim).size, 20, `${name} holds exactly its own 20 rules`);
        assert.equal(ok(await two.gql(REPORT, { r: name })).syncReport.inSync, true, `${name} in sync`);
      }
      // the routers share addresses: the fleet as a whole reuses them
      assert.ok(new Set(vms.map((v) => v.internalIp)).size < 30);
      // a change of a router's row on one replica reaches the other's unit within its refresh (5 s)
      process.env.FLEET_TEST_KEY_WRONG = 'not-the-key';
      ok(await one.gql(`mutation { updateRouter(name: "c", input: { credential: "env:FLEET_TEST_KEY_WRONG" }) { name } }`));
      const cOnTwo = async () => ok(await two.gql(`{ routers { name health { status } } }`)).routers.find((r: { name: string }) => r.name === 'c').health.status;
      let status = await cOnTwo();
      for (let i = 0; i < 40 && status !== 'down'; i++, status = await cOnTwo()) await sleep(250);
      assert.equal(status, 'down', 'the other replica now calls c with the new (wrong) key');
    } finally {
      await two.close();
      await one.close();
      await Promise.all([b.close(), c.close()]);
    }
  });

  test('two replicas share the routers\' background sync: one leader per router, two routers each', async () => {
    const sims = await Promise.all([1, 2, 3].map((i) => startSimulator({ keys: [`key-${i}`] })));
    const env = { ROUTER_NAME: 'home', SYNC_INTERVAL_SECONDS: '1' };
    const one = await startTestApp({ env });
    try {
      for (const [i, sim] of sims.entries()) {
        process.env[`FLEET_TEST_SYNC_KEY_${i}`] = `key-${i + 1}`;
        ok(await one.gql(REGISTER, { input: { name: `s${i + 1}`, url: sim.url, credential: `env:FLEET_TEST_SYNC_KEY_${i}` } }));
      }
      // the first replica leads all four before the second starts
      const leads = (t: TestApp) => t.app.fleet.units().filter((u) => u.syncJob.status().leader).map((u) => u.name).sort();
      for (let i = 0; i < 60 && leads(one).length < 4; i++) await sleep(250);
      assert.deepEqual(leads(one), ['home', 's1', 's2', 's3']);
      const two = await startTestApp({ env, db: one.db, simulator: one.sim });
      try {
        for (let i = 0; i < 80 && !(leads(one).length === 2 && leads(two).length === 2); i++) await sleep(250);
        assert.deepEqual([leads(one).length, leads(two).length], [2, 2], `one leads ${leads(one)}, two leads ${leads(two)}`);
        assert.deepEqual([...leads(one), ...leads(two)].sort(), ['home', 's1', 's2', 's3'], 'every router has exactly one leader');
        const m = parseMetrics(await (await fetch(`${two.url}/metrics`)).text());
        assert.equal(value(m, 'vyos_vm_api_sync_leader'), 2, 'sync_leader says which routers this replica leads');
      } finally {
        await two.close();
      }
    } finally {
      await one.close();
      await Promise.all(sims.map((s) => s.close()));
    }
  });

  test('SIGKILL during two routers\' commits: the next start resolves each router\'s journal entry on that router', async () => {
    const { startServerProcess } = await import('../support/server-process.js');
    const { createTestDatabase } = await import('../support/database.js');
    const db = await createTestDatabase();
    // a 5 s "minute": an unconfirmed commit reverts by itself within seconds
    const [home, b, c] = await Promise.all([
      startSimulator({ keys: ['sim-key'], minuteMs: 5000 }),
      startSimulator({ keys: ['key-b'], minuteMs: 5000 }),
      startSimulator({ keys: ['key-c'], minuteMs: 5000 }),
    ]);
    const admin = 'fleet-admin-key-0123456789';
    const env = { DATABASE_URL: db.url, VYOS_URL: home.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: admin, ROUTER_NAME: 'home', FLEET_TEST_KEY_B: 'key-b', FLEET_TEST_KEY_C: 'key-c' };
    const first = await startServerProcess(env);
    let second: Awaited<ReturnType<typeof startServerProcess>> | null = null;
    try {
      for (const [name, sim, key] of [['b', b, 'FLEET_TEST_KEY_B'], ['c', c, 'FLEET_TEST_KEY_C']] as const) {
        const res = await first.gql(REGISTER, { input: { name, url: sim.url, credential: `env:${key}` } }, admin);
        assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      }
      b.setCommitLatency(2000);
      c.setCommitLatency(2000);
      const pending = ['b', 'c'].map((r) => first.gql(PROVISION, { input: { name: `killed-${r}`, router: r, portRules: [{ protocol: 'TCP', internalPort: 6006 }] } }, admin).catch(() => null));
      for (let i = 0; i < 200 && !(b.committing() && c.committing()); i++) await sleep(25);
      assert.ok(b.committing() && c.committing(), 'precondition: both routers are inside the commit');
      await first.stop('SIGKILL');
      await Promise.all(pending);
      b.setCommitLatency(0);
      c.setCommitLatency(0);
      for (let i = 0; i < 40 && !(rulesOn(b).size && rulesOn(c).size); i++) await sleep(50);
      assert.deepEqual([rulesOn(b).size, rulesOn(c).size, b.confirmPending(), c.confirmPending()], [1, 1, true, true], 'each router holds the dead process\'s unconfirmed change');

      second = await startServerProcess(env);
      const unfinished = async () => {
        const rows = await sqlAt(db.url, `select router, state from operation where state not in ('DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED') order by router`);
        return rows.rows;
      };
      for (let i = 0; i < 100 && (await unfinished()).length; i++) await sleep(200);
      assert.deepEqual(await unfinished(), [], 'no journal entry is left unfinished on any router');
      const settled = (await sqlAt(db.url, `select router, count(*)::int as n from operation where operation = 'provisionVm' group by router order by router`)).rows;
      assert.deepEqual(settled, [{ router: 'b', n: 1 }, { router: 'c', n: 1 }], 'each entry is on its own router');
      for (let i = 0; i < 50 && (rulesOn(b).size || rulesOn(c).size); i++) await sleep(200);
      assert.equal(rulesOn(b).size + rulesOn(c).size, 0, 'both routers reverted the unconfirmed change');
      assert.equal((await sqlAt(db.url, `select count(*)::int as n from vm where name like 'killed-%'`)).rows[0].n, 0);
      assert.equal(rulesOn(home).size, 0, 'the environment\'s router was never touched');
    } finally {
      await second?.stop();
      if (first.child.exitCode === null) await first.stop('SIGKILL');
      await Promise.all([home.close(), b.close(), c.close()]);
      await db.drop();
    }
  });
});
