// Routers as data (issue 18, first part; docs/operations.md "A fleet of routers"): the
// environment's router is a row, every VM and rule belongs to a router, addresses, ports and rule
// numbers are unique per router, and an install of the previous release moves onto its router
// with no configuration change. Real PostgreSQL, the simulator over real HTTP.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openOrm } from '../../src/database/orm.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { errorCode, ok, sql, sqlAt, startTestApp, type TestApp } from '../support/app.js';

const ROUTERS = `{ routers { name url credential lifecycle fromEnvironment driven wanInterface natRuleRange externalPortRange lanPool tlsInsecure vmCount capabilities { version syntax } } }`;
const PROVISION = `mutation($n: String!) { provisionVm(input: { name: $n, portRules: [{ protocol: TCP, internalPort: 22 }] }) { id router internalIp portRules { ruleNumber externalPort } } }`;

describe('the environment router is a row, and every VM lives on a router', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { ROUTER_NAME: 'edge-1', NAT_RULE_RANGE: '20000-20099', EXTERNAL_PORT_RANGE: '40000-40099', LAN_POOL: '10.9.0.10-10.9.0.50' } });
  });
  after(async () => t?.close());

  test('routers lists it with its settings and capabilities, and never its key', async () => {
    const res = await t.gql(ROUTERS);
    const [r] = ok(res).routers;
    assert.equal(ok(res).routers.length, 1);
    assert.equal(r.name, 'edge-1');
    assert.equal(r.url, t.sim.url);
    assert.equal(r.credential, 'env:VYOS_API_KEY');
    assert.equal(r.lifecycle, 'ENABLED');
    assert.equal(r.fromEnvironment, true);
    assert.equal(r.driven, true);
    assert.equal(r.natRuleRange, '20000-20099');
    assert.equal(r.externalPortRange, '40000-40099');
    assert.equal(r.lanPool, '10.9.0.10-10.9.0.50');
    assert.equal(r.capabilities.version.includes('rolling'), true, r.capabilities.version);
    assert.equal(JSON.stringify(res).includes('sim-key'), false, 'the API key is not in the answer');
    const row = (await sql(t, 'select * from router')).rows[0];
    assert.equal(JSON.stringify(row).includes('sim-key'), false, 'the API key is not in the database');
  });

  test('a provisioned VM names its router, and the router filter finds it', async () => {
    const vm = ok(await t.gql(PROVISION, { n: 'web-1' })).provisionVm;
    assert.equal(vm.router, 'edge-1');
    const onIt = ok(await t.gql(`{ vms(filter: { router: "edge-1" }) { edges { node { name router } } } }`)).vms.edges;
    assert.deepEqual(onIt.map((e: { node: { name: string } }) => e.node.name), ['web-1']);
    assert.equal(ok(await t.gql(`{ vms(filter: { router: "elsewhere" }) { edges { node { id } } } }`)).vms.edges.length, 0);
    assert.equal(ok(await t.gql(`{ portRules(filter: { router: "edge-1" }) { edges { node { ruleNumber } } } }`)).portRules.edges.length, 1);
    assert.equal(ok(await t.gql(ROUTERS)).routers[0].vmCount, 1);
  });

  test("another router's addresses, ports and rule numbers are not this router's: allocation and capacity ignore them", async () => {
    // A second router's rows, written underneath the API: it holds the next values this router would hand out.
    await sql(t, `insert into router (name, url, created_at, updated_at) values ('edge-2', 'https://edge-2.example', now(), now())`);
    const before = ok(await t.gql(`{ health { capacity { pool used } } }`)).health.capacity;
    const vm2 = (await sql(t, `insert into vm (id, name, router, internal_ip, created_at, updated_at) values (gen_random_uuid(), 'other-1', 'edge-2', '10.9.0.11', now(), now()) returning id`)).rows[0].id;
    await sql(t, `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, tcp_port, enabled, needs_repair, created_at, updated_at)
                  values (gen_random_uuid(), $1, 20001, 'TCP', 40001, 22, 40001, true, false, now(), now())`, [vm2]);
    // the rule took its VM's router (a trigger keeps the copy right)
    assert.equal((await sql(t, 'select router from port_rule where vm_id = $1', [vm2])).rows[0].router, 'edge-2');

    const vm = ok(await t.gql(PROVISION, { n: 'web-2' })).provisionVm;
    assert.equal(vm.router, 'edge-1');
    assert.equal(vm.internalIp, '10.9.0.11', "edge-2's VM at .11 does not take the address from edge-1");
    assert.deepEqual(vm.portRules, [{ ruleNumber: 20001, externalPort: 40001 }], "nor its rule number and port");
    const after = ok(await t.gql(`{ health { capacity { pool used } } }`)).health.capacity;
    for (const p of after) {
      const grew = p.pool === 'external_port_udp' ? 0 : 1;
      assert.equal(p.used, before.find((b: { pool: string }) => b.pool === p.pool).used + grew, `${p.pool} counts edge-1's values only`);
    }
    // On the router the API drives, only its own rules.
    assert.deepEqual(t.routerRules().map((r) => r.ruleNumber).sort(), [20000, 20001]);
  });

  test('within one router the database itself refuses a second holder of an address, a rule number or a port', async () => {
    const [vm] = (await sql(t, `select id from vm where name = 'web-2'`)).rows;
    await assert.rejects(sql(t, `insert into vm (id, name, router, internal_ip, created_at, updated_at) values (gen_random_uuid(), 'dup-ip', 'edge-1', '10.9.0.11', now(), now())`), /vm_router_internal_ip_unique/);
    const rule = (number: number, port: number) =>
      sql(t, `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, port_count, tcp_port, enabled, needs_repair, created_at, updated_at)
              values (gen_random_uuid(), $1, $2, 'TCP', $3, $3, 5, $3, true, false, now(), now())`, [vm.id, number, port]);
    await assert.rejects(rule(20001, 40050), /port_rule_router_rule_number_unique/);
    await assert.rejects(rule(20090, 39998), /port_rule_tcp_ports_excl/, 'a run 39998-40002 overlaps port 40001');
    // edge-1's rule number 20000 and port 40000 (web-1's) on edge-2 are edge-2's own business
    const [other] = (await sql(t, `select id from vm where name = 'other-1'`)).rows;
    await sql(t, `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, tcp_port, enabled, needs_repair, created_at, updated_at)
                  values (gen_random_uuid(), $1, 20000, 'TCP', 40000, 22, 40000, true, false, now(), now())`, [other.id]);
    await sql(t, `insert into vm (id, name, router, internal_ip, created_at, updated_at) values (gen_random_uuid(), 'other-2', 'edge-2', '10.9.0.10', now(), now())`);
  });

  test('a VM name is unique across the fleet', async () => {
    await assert.rejects(sql(t, `insert into vm (id, name, router, internal_ip, created_at, updated_at) values (gen_random_uuid(), 'web-1', 'edge-2', '10.9.0.40', now(), now())`), /vm_name_unique/);
  });
});

describe('an install of the previous release moves onto its router with no configuration change', () => {
  let db: TestDatabase;
  let sim: Simulator;
  const PREVIOUS = 'Migration20261202204741_rule_hairpin';
  before(async () => {
    db = await createTestDatabase();
    sim = await startSimulator({ keys: ['sim-key'], version: 'rolling' });
    // The schema as the previous release left it, with its rows.
    const orm = await openOrm({ url: db.url, poolMax: 2 });
    await orm.getMigrator().up({ to: PREVIOUS });
    await orm.close(true);
    await sqlAt(db.url, `insert into vm (id, name, internal_ip, created_at, updated_at) values ('6f0c1d8e-0000-4000-8000-000000000001', 'old-1', '192.168.64.100', now(), now())`);
    await sqlAt(db.url, `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, tcp_port, enabled, needs_repair, created_at, updated_at)
                         values (gen_random_uuid(), '6f0c1d8e-0000-4000-8000-000000000001', 10000, 'TCP', 32000, 22, 32000, true, false, now(), now())`);
    await sqlAt(db.url, `insert into router_state (router, saved_at) values ('site-a', now())`);
    await sqlAt(db.url, `insert into operation (id, operation, state, commands, inverse, created_at, updated_at) values (gen_random_uuid(), 'provisionVm', 'DONE', '[]', '[]', now(), now())`);
  });
  after(async () => {
    await sim?.close();
    await db?.drop();
  });

  test('its rows belong to its ROUTER_NAME, and it keeps allocating past them', async () => {
    const t = await startTestApp({ db, simulator: sim, env: { ROUTER_NAME: 'site-a' } });
    try {
      const { routers } = ok(await t.gql(`{ routers { name fromEnvironment driven vmCount } }`));
      assert.deepEqual(routers, [{ name: 'site-a', fromEnvironment: true, driven: true, vmCount: 1 }]);
      assert.equal(ok(await t.gql(`{ vm(name: "old-1") { router } }`)).vm.router, 'site-a');
      const vm = ok(await t.gql(PROVISION, { n: 'new-1' })).provisionVm;
      assert.equal(vm.internalIp, '192.168.64.101');
      assert.deepEqual(vm.portRules, [{ ruleNumber: 10001, externalPort: 32001 }]);
      assert.deepEqual((await sql(t, 'select distinct router from operation')).rows, [{ router: 'site-a' }]);
    } finally {
      await t.close();
    }
  });

  test('a replica of the previous release still writes during the rollout: its rows land on the router', async () => {
    await sqlAt(db.url, `insert into vm (id, name, internal_ip, created_at, updated_at) values ('6f0c1d8e-0000-4000-8000-000000000002', 'old-2', '192.168.64.150', now(), now())`);
    await sqlAt(db.url, `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, tcp_port, enabled, needs_repair, created_at, updated_at)
                         values (gen_random_uuid(), '6f0c1d8e-0000-4000-8000-000000000002', 10050, 'TCP', 32050, 22, 32050, true, false, now(), now())`);
    await sqlAt(db.url, `insert into operation (id, operation, state, commands, inverse, created_at, updated_at) values (gen_random_uuid(), 'provisionVm', 'DONE', '[]', '[]', now(), now())`);
    for (const table of ['vm', 'port_rule', 'operation']) {
      assert.deepEqual((await sqlAt(db.url, `select distinct router from ${table}`)).rows, [{ router: 'site-a' }], table);
    }
  });

  test('a different ROUTER_NAME on the same database is another router: the first keeps its VMs', async () => {
    const t = await startTestApp({ db, simulator: sim, env: { ROUTER_NAME: 'site-b' } });
    try {
      assert.deepEqual(ok(await t.gql(`{ routers { name driven vmCount } }`)).routers, [
        { name: 'site-a', driven: false, vmCount: 3 },
        { name: 'site-b', driven: true, vmCount: 0 },
      ]);
      // site-b's pools are its own: it starts at the bottom of them
      const vm = ok(await t.gql(PROVISION, { n: 'new-2' })).provisionVm;
      assert.equal(vm.router, 'site-b');
      assert.equal(vm.internalIp, '192.168.64.100');
      assert.deepEqual(vm.portRules, [{ ruleNumber: 10000, externalPort: 32000 }]);
      // site-a's VMs are site-a's server's to change: this one does not drive that router
      const [other] = ok(await t.gql(`{ vms(filter: { router: "site-a" }, first: 1) { edges { node { id portRules { id } } } } }`)).vms.edges;
      const res = await t.gql(`mutation($id: ID!) { addPortRule(vmId: $id, input: { protocol: TCP, internalPort: 9 }) { id } }`, { id: other.node.id });
      assert.equal(errorCode(res), 'ROUTER_UNAVAILABLE');
      assert.match(res.errors![0].message, /another environment configures it/);
      assert.equal(ok(await t.gql(`query($id: ID!) { vm(id: $id) { portRules { id } } }`, { id: other.node.id })).vm.portRules.length, other.node.portRules.length);
    } finally {
      await t.close();
    }
  });
});

describe('a fresh database: the unnamed router the migration makes becomes ROUTER_NAME', () => {
  let t: TestApp;
  after(async () => t?.close());
  test('one router, named as configured, and no unnamed one left', async () => {
    t = await startTestApp({ env: { ROUTER_NAME: 'lab' } });
    assert.deepEqual((await sql(t, 'select name, from_env from router')).rows, [{ name: 'lab', from_env: true }]);
  });
});
