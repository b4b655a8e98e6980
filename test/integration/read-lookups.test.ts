// Lookups for automation over real HTTP (issue 17 items 3 and 6): vm(name:), every filter of vms
// and portRules, portOwners with TCP_UDP claims, node(id:) for each type (ApiKey for ADMIN only),
// backward and forward pages of portRules and rollbackEvents, the enums' wire strings, and the
// read cache taking the new lists.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, errorCode, ok, startTestApp, type TestApp, sql } from '../support/app.js';
import { parseMetrics, value } from '../support/metrics.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id name internalIp portRules { id ruleNumber externalPort protocol enabled } } }`;
const names = (conn: { edges: { node: { name: string } }[] }) => conn.edges.map((e) => e.node.name).sort();
const ports = (rules: { externalPort: number; protocol: string }[]) => rules.map((r) => `${r.externalPort}/${r.protocol}`).sort();

describe('lookups, filters, node(id:) and Relay pages', () => {
  let t: TestApp;
  let viewer: string;
  let operator: string;
  type Made = { id: string; name: string; internalIp: string; portRules: { id: string; ruleNumber: number; externalPort: number; protocol: string; enabled: boolean }[] };
  let web1: Made;
  let web2: Made;
  let db1: Made;

  before(async () => {
    t = await startTestApp();
    viewer = await createKey(t, 'VIEWER');
    operator = await createKey(t, 'OPERATOR');
    const provision = async (input: Record<string, unknown>): Promise<Made> => ok(await t.gql(PROVISION, { input })).provisionVm;
    web1 = await provision({
      name: 'web-1',
      internalIp: '192.168.64.110',
      portRules: [
        { internalPort: 80, externalPort: 32001 },
        { internalPort: 53, externalPort: 32002, protocol: 'UDP', enabled: false },
        { internalPort: 5353, externalPort: 32005, protocol: 'UDP' },
      ],
    });
    web2 = await provision({ name: 'my-web-2', internalIp: '192.168.64.111', portRules: [{ internalPort: 443, externalPort: 32003, protocol: 'TCP_UDP' }] });
    db1 = await provision({
      name: 'db-1',
      internalIp: '192.168.64.112',
      portRules: [
        { internalPort: 5432, externalPort: 32004 },
        { internalPort: 6432, externalPort: 32005 },
      ],
    });
  });
  after(async () => {
    await t?.close();
  });

  test('vm(name:) and vm(id:); exactly one of the two', async () => {
    const q = `query($id: ID, $name: String) { vm(id: $id, name: $name) { id name } }`;
    assert.deepEqual(ok(await t.gql(q, { name: 'web-1' }, { key: viewer })).vm, { id: web1.id, name: 'web-1' });
    assert.deepEqual(ok(await t.gql(q, { id: db1.id }, { key: viewer })).vm, { id: db1.id, name: 'db-1' });
    // the contract's form: a non-null ID variable still fits
    assert.equal(ok(await t.gql(`query($id: ID!) { vm(id: $id) { name } }`, { id: web2.id })).vm.name, 'my-web-2');
    assert.equal(ok(await t.gql(q, { name: 'no-such-vm' })).vm, null);
    assert.equal(ok(await t.gql(q, { id: 'not-a-uuid' })).vm, null);
    assert.equal(errorCode(await t.gql(`{ vm { id } }`)), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(q, { id: web1.id, name: 'web-1' })), 'BAD_USER_INPUT');
  });

  test('every vms filter, alone and together', async () => {
    const q = `query($f: VmFilter) { vms(first: 50, filter: $f) { totalCount edges { node { name } } } }`;
    const found = async (f: Record<string, unknown>) => {
      const c = ok(await t.gql(q, { f }, { key: viewer })).vms;
      assert.equal(c.totalCount, c.edges.length, `totalCount counts the filtered list: ${JSON.stringify(f)}`);
      return names(c);
    };
    assert.deepEqual(await found({}), ['db-1', 'my-web-2', 'web-1']);
    assert.deepEqual(await found({ nameContains: 'WEB' }), ['my-web-2', 'web-1'], 'case-insensitive substring');
    assert.deepEqual(await found({ nameContains: 'web-1' }), ['web-1']);
    assert.deepEqual(await found({ internalIp: '192.168.64.112' }), ['db-1']);
    assert.deepEqual(await found({ internalIp: '192.168.64.199' }), []);
    assert.deepEqual(await found({ externalPort: 32001 }), ['web-1']);
    assert.deepEqual(await found({ externalPort: 32005 }), ['db-1', 'web-1']);
    assert.deepEqual(await found({ protocol: 'TCP_UDP' }), ['my-web-2'], 'exactly this protocol');
    assert.deepEqual(await found({ protocol: 'UDP' }), ['web-1']);
    assert.deepEqual(await found({ protocol: 'TCP' }), ['db-1', 'web-1']);
    assert.deepEqual(await found({ enabled: false }), ['web-1']);
    assert.deepEqual(await found({ enabled: true }), ['db-1', 'my-web-2', 'web-1']);
    // one rule must match every rule condition: web-1's disabled rule is on 32002, not 32001
    assert.deepEqual(await found({ externalPort: 32001, enabled: false }), []);
    assert.deepEqual(await found({ externalPort: 32002, enabled: false, protocol: 'UDP' }), ['web-1']);
    assert.deepEqual(await found({ externalPort: 32005, protocol: 'TCP' }), ['db-1']);
    assert.deepEqual(await found({ nameContains: 'web', protocol: 'TCP' }), ['web-1']);
    assert.equal(errorCode(await t.gql(q, { f: { externalPort: 70000 } })), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(q, { f: { internalIp: 'not-an-ip' } })), 'BAD_USER_INPUT');
  });

  test('every portRules filter, alone and together', async () => {
    const q = `query($f: PortRuleFilter) { portRules(first: 50, filter: $f) { totalCount edges { node { externalPort protocol vm { name } } } } }`;
    const found = async (f: Record<string, unknown>) => {
      const c = ok(await t.gql(q, { f }, { key: viewer })).portRules;
      assert.equal(c.totalCount, c.edges.length);
      return ports(c.edges.map((e: any) => e.node));
    };
    assert.deepEqual(await found({}), ['32001/TCP', '32002/UDP', '32003/TCP_UDP', '32004/TCP', '32005/TCP', '32005/UDP']);
    assert.deepEqual(await found({ vmId: db1.id }), ['32004/TCP', '32005/TCP']);
    assert.deepEqual(await found({ vmId: 'not-a-uuid' }), []);
    assert.deepEqual(await found({ vmId: '00000000-0000-4000-8000-000000000000' }), []);
    assert.deepEqual(await found({ externalPort: 32005 }), ['32005/TCP', '32005/UDP']);
    assert.deepEqual(await found({ protocol: 'UDP' }), ['32002/UDP', '32005/UDP']);
    assert.deepEqual(await found({ enabled: false }), ['32002/UDP']);
    assert.deepEqual(await found({ internalIp: '192.168.64.110' }), ['32001/TCP', '32002/UDP', '32005/UDP']);
    assert.deepEqual(await found({ internalIp: '192.168.64.110', enabled: true, protocol: 'UDP' }), ['32005/UDP']);
    assert.deepEqual(await found({ vmId: web1.id, externalPort: 32004 }), []);
    const all = ok(await t.gql(`{ portRules { edges { node { ruleNumber } } } }`)).portRules.edges.map((e: any) => e.node.ruleNumber);
    assert.deepEqual(all, [...all].sort((a: number, b: number) => a - b), 'by rule number');
    assert.equal(errorCode(await t.gql(q, { f: { externalPort: 0 } })), 'BAD_USER_INPUT');
  });

  test('portOwners: who holds a port, with TCP_UDP claiming both transports', async () => {
    const q = `query($p: Port!, $proto: Protocol) { portOwners(externalPort: $p, protocol: $proto) { id externalPort protocol vm { name } } }`;
    const owners = async (p: number, proto?: string) => {
      const rules = ok(await t.gql(q, { p, ...(proto ? { proto } : {}) }, { key: viewer })).portOwners;
      return rules.map((r: any) => `${r.vm.name} ${r.externalPort}/${r.protocol}`).sort();
    };
    assert.deepEqual(await owners(32003, 'TCP'), ['my-web-2 32003/TCP_UDP'], 'a TCP question finds the TCP_UDP rule');
    assert.deepEqual(await owners(32003, 'UDP'), ['my-web-2 32003/TCP_UDP']);
    assert.deepEqual(await owners(32001, 'TCP'), ['web-1 32001/TCP']);
    assert.deepEqual(await owners(32001, 'UDP'), [], 'the UDP side of 32001 is free');
    assert.deepEqual(await owners(32001, 'TCP_UDP'), ['web-1 32001/TCP']);
    assert.deepEqual(await owners(32005, 'TCP'), ['db-1 32005/TCP']);
    assert.deepEqual(await owners(32005), ['db-1 32005/TCP', 'web-1 32005/UDP'], 'omitted: both transports');
    assert.deepEqual(await owners(32999), []);
    assert.equal(errorCode(await t.gql(q, { p: 65536 })), 'BAD_USER_INPUT');
  });

  test('node(id:) refetches every type by its id; ApiKey only for ADMIN', async () => {
    const snap = ok(await t.gql(`mutation { takeSnapshot(reason: "for node") { id } }`)).takeSnapshot;
    t.sim.faults.rejectNextCommit();
    assert.equal(errorCode(await t.gql(`mutation($id: ID!) { addPortRule(vmId: $id, input: { internalPort: 8080 }) { id } }`, { id: db1.id })), 'ROUTER_REJECTED');
    const event = ok(await t.gql(`{ rollbackEvents(first: 1) { edges { node { id } } } }`)).rollbackEvents.edges[0].node;
    const adminKeyId = ok(await t.gql(`{ apiKeys { id role } }`)).apiKeys.find((k: any) => k.role === 'ADMIN').id;
    const q = `query($id: ID!) { node(id: $id) { __typename id
      ... on Vm { name } ... on PortRule { externalPort vm { name } } ... on RollbackEvent { operation stage }
      ... on Snapshot { reason } ... on ApiKey { role prefix } } }`;
    const node = async (id: string, key?: string) => ok(await t.gql(q, { id }, key ? { key } : {})).node;
    for (const key of [viewer, operator, undefined]) {
      assert.deepEqual(await node(web1.id, key), { __typename: 'Vm', id: web1.id, name: 'web-1' });
      assert.deepEqual(await node(web2.portRules[0].id, key), { __typename: 'PortRule', id: web2.portRules[0].id, externalPort: 32003, vm: { name: 'my-web-2' } });
      assert.deepEqual(await node(event.id, key), { __typename: 'RollbackEvent', id: event.id, operation: 'addPortRule', stage: 'ROUTER_COMMIT' });
      assert.deepEqual(await node(snap.id, key), { __typename: 'Snapshot', id: snap.id, reason: 'for node' });
    }
    const adminView = await node(adminKeyId);
    assert.equal(adminView.__typename, 'ApiKey');
    assert.equal(adminView.id, adminKeyId);
    assert.equal(adminView.role, 'ADMIN');
    assert.equal(await node(adminKeyId, viewer), null, 'a VIEWER does not see keys');
    assert.equal(await node(adminKeyId, operator), null, 'an OPERATOR does not see keys');
    assert.equal(await node('00000000-0000-4000-8000-000000000000'), null);
    assert.equal(await node('garbage'), null);
    assert.equal(errorCode(await t.gql(q, { id: web1.id }, { key: null })), 'UNAUTHENTICATED');
    // the ids are the ones every other field gives: the same objects
    const vm = ok(await t.gql(`query($id: ID!) { vm(id: $id) { id } }`, { id: web1.id })).vm;
    assert.equal(vm.id, (await node(web1.id)).id);
  });

  test('portRules and rollbackEvents page forwards and backwards, PageInfo right at both ends', async () => {
    for (let i = 0; i < 3; i++) {
      t.sim.faults.rejectNextCommit();
      assert.equal(errorCode(await t.gql(`mutation($id: ID!) { addPortRule(vmId: $id, input: { internalPort: 9000 }) { id } }`, { id: web2.id })), 'ROUTER_REJECTED');
    }
    for (const [field, size] of [['portRules', 2], ['rollbackEvents', 1]] as const) {
      const all = ok(await t.gql(`{ list: ${field}(first: 200) { totalCount edges { node { id } } } }`)).list;
      const ids = all.edges.map((e: any) => e.node.id);
      assert.ok(ids.length >= 3, `${field} has several items`);
      assert.equal(all.totalCount, ids.length);
      const fwd: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; ; page++) {
        const p: any = ok(await t.gql(`query($c: String) { list: ${field}(first: ${size}, after: $c) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, { c: cursor })).list;
        assert.equal(p.pageInfo.hasPreviousPage, page > 0, `${field} forwards page ${page}: hasPreviousPage`);
        fwd.push(...p.edges.map((e: any) => e.node.id));
        assert.equal(p.pageInfo.hasNextPage, fwd.length < ids.length, `${field} forwards page ${page}: hasNextPage`);
        if (!p.pageInfo.hasNextPage) break;
        cursor = p.pageInfo.endCursor;
      }
      assert.deepEqual(fwd, ids);
      const back: string[] = [];
      cursor = null;
      for (let page = 0; ; page++) {
        const p: any = ok(await t.gql(`query($c: String) { list: ${field}(last: ${size}, before: $c) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor } } }`, { c: cursor })).list;
        assert.equal(p.pageInfo.hasNextPage, page > 0, `${field} backwards page ${page}: hasNextPage`);
        back.unshift(...p.edges.map((e: any) => e.node.id));
        assert.equal(p.pageInfo.hasPreviousPage, back.length < ids.length, `${field} backwards page ${page}: hasPreviousPage`);
        if (!p.pageInfo.hasPreviousPage) break;
        cursor = p.pageInfo.startCursor;
      }
      assert.deepEqual(back, ids, `${field}: backwards gives the same list, in the same order`);
    }
    // rollbackEvents stay newest first whichever way they are read
    const times = ok(await t.gql(`{ rollbackEvents(last: 200) { edges { node { at } } } }`)).rollbackEvents.edges.map((e: any) => Date.parse(e.node.at));
    assert.deepEqual(times, [...times].sort((a: number, b: number) => b - a));
  });

  test('the enums keep the wire strings the String fields had', async () => {
    // Health: the same strings GET /health (plain JSON, no GraphQL) reports
    const gql = ok(await t.gql(`{ health { status database { status } router { status } background { status } } }`)).health;
    const http = (await (await fetch(`${t.url}/health`)).json()) as any;
    assert.deepEqual(gql, { status: http.status, database: { status: http.database.status }, router: { status: http.router.status }, background: { status: http.background.status } });
    assert.ok(['ok', 'degraded', 'down'].includes(gql.status));
    // RouterCommand.op: what the database holds, character for character
    const event = ok(await t.gql(`{ rollbackEvents(first: 1) { edges { node { id operation operations commands { op path } } } } }`)).rollbackEvents.edges[0].node;
    const stored = (await sql(t, 'select operation, commands from rollback_event where id = $1', [event.id])).rows[0];
    assert.deepEqual(event.commands, stored.commands);
    assert.ok(event.commands.some((c: any) => c.op === 'set'));
    assert.equal(event.operation, stored.operation);
    assert.deepEqual(event.operations, ['addPortRule']);
    // a batch's comma-joined operation: `operation` as stored, `operations` each name once
    await sql(t, `update rollback_event set operation = 'addPortRule,provisionVm,addPortRule' where id = $1`, [event.id]);
    const batch = ok(await t.gql(`query($id: ID!) { node(id: $id) { ... on RollbackEvent { operation operations } } }`, { id: event.id })).node;
    assert.deepEqual(batch, { operation: 'addPortRule,provisionVm,addPortRule', operations: ['addPortRule', 'provisionVm'] });
    // FieldDrift.field: the camelCase names
    const rule = db1.portRules.find((r) => r.externalPort === 32004)!;
    t.sim.apply([
      { op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'description', 'edited by hand'] },
      { op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'translation', 'port', '15432'] },
      { op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'disable'] },
    ]);
    const items = ok(await t.gql(`{ syncReport { items { kind ruleNumber fields { field expected actual } } } }`)).syncReport.items;
    const drifted = items.find((i: any) => i.kind === 'DRIFTED' && i.ruleNumber === rule.ruleNumber);
    assert.deepEqual(drifted.fields.map((f: any) => f.field).sort(), ['description', 'enabled', 'internalPort']);
    assert.deepEqual(drifted.fields.find((f: any) => f.field === 'enabled'), { field: 'enabled', expected: 'true', actual: 'false' });
  });

  test('the read cache keeps answers to portRules and portOwners, and forgets them on a change', async () => {
    const counts = async () => {
      const s = parseMetrics(await t.app.metrics.scrape());
      return { hit: value(s, 'vyos_vm_api_read_cache_requests_total', { outcome: 'hit' }), miss: value(s, 'vyos_vm_api_read_cache_requests_total', { outcome: 'miss' }) };
    };
    for (const query of [`{ portRules(last: 3, filter: { enabled: true }) { edges { node { externalPort } } } }`, `{ portOwners(externalPort: 32005) { id } }`, `{ vms(filter: { nameContains: "web" }) { totalCount } }`]) {
      const a = await counts();
      const first = ok(await t.gql(query, {}, { key: viewer }));
      const b = await counts();
      const second = ok(await t.gql(query, {}, { key: viewer }));
      const c = await counts();
      assert.deepEqual([b.miss - a.miss, b.hit - a.hit], [1, 0], `${query}: computed and kept`);
      assert.deepEqual([c.miss - b.miss, c.hit - b.hit], [0, 1], `${query}: answered from the cache`);
      assert.deepEqual(second, first);
    }
    const q = `{ portOwners(externalPort: 32006, protocol: TCP) { vm { name } } }`;
    assert.deepEqual(ok(await t.gql(q, {}, { key: viewer })).portOwners, []);
    ok(await t.gql(`mutation($id: ID!) { addPortRule(vmId: $id, input: { internalPort: 81, externalPort: 32006 }) { id } }`, { id: web2.id }));
    assert.deepEqual(ok(await t.gql(q, {}, { key: viewer })).portOwners, [{ vm: { name: 'my-web-2' } }], 'the change is seen at once');
    // node(id:) is never cached (it can answer a Snapshot, whose table notifies no one)
    const a = await counts();
    ok(await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: web1.id }, { key: viewer }));
    ok(await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: web1.id }, { key: viewer }));
    const b = await counts();
    assert.deepEqual([b.hit - a.hit, b.miss - a.miss], [0, 0]);
  });
});

describe('a vms page reads only the rule columns its selection needs (issue 16)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    const provision = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }`;
    ok(await t.gql(provision, { input: { name: 'rich-1', macAddress: '52:54:00:12:34:56', portRules: [
      { name: 'web', internalPort: 8080, externalPort: 32100, description: 'front door', sourceAddress: '198.51.100.0/24' },
      { name: 'media', externalPort: 32110, portCount: 3, protocol: 'UDP', enabled: false },
    ] } }));
    ok(await t.gql(provision, { input: { name: 'plain-1', portRules: [{ internalPort: 22 }] } }));
  });
  after(async () => {
    await t?.close();
  });

  test('aliases, a fragment and a VM reached again through a rule each answer what the rule itself holds', async () => {
    const FRESH = { headers: { 'cache-control': 'no-cache' } };
    const all = 'id name ruleNumber protocol externalPort internalPort portCount hairpin sourceAddress description enabled needsRepair createdAt updatedAt';
    const truth = new Map<string, Record<string, unknown>>();
    for (const { node } of ok(await t.gql(`{ portRules(first: 50) { edges { node { ${all} } } } }`, {}, FRESH)).portRules.edges) truth.set(node.id, node);
    assert.equal(truth.size, 3, 'precondition: three rules');
    const pick = (id: string, fields: string[]) => Object.fromEntries(fields.map((f) => [f, truth.get(id)![f]]));

    const page = ok(await t.gql(`
      fragment Late on PortRule { internalPort hairpin createdAt }
      fragment Stamp on Vm { updatedAt ... on Vm { macAddress } }
      { vms(first: 5) { edges { node { name id ...Stamp
        a: portRules { id ruleNumber description }
        b: portRules { id ...Late protocol enabled }
        portRules { __typename vm { name portRules { id sourceAddress portCount updatedAt needsRepair name externalPort } } }
      } } } }`, {}, FRESH)).vms.edges.map((e: { node: any }) => e.node);
    assert.deepEqual(page.map((n: { name: string }) => n.name).sort(), ['plain-1', 'rich-1']);
    let seen = 0;
    for (const vm of page) {
      const own = ok(await t.gql(`query($id: ID!) { vm(id: $id) { name updatedAt macAddress } }`, { id: vm.id }, FRESH)).vm;
      assert.deepEqual({ name: vm.name, updatedAt: vm.updatedAt, macAddress: vm.macAddress }, own);
      for (const r of vm.a) assert.deepEqual(r, pick(r.id, ['id', 'ruleNumber', 'description']));
      for (const r of vm.b) assert.deepEqual(r, pick(r.id, ['id', 'internalPort', 'hairpin', 'createdAt', 'protocol', 'enabled']));
      for (const r of vm.portRules) {
        assert.equal(r.vm.name, vm.name);
        for (const again of r.vm.portRules) {
          assert.deepEqual(again, pick(again.id, ['id', 'sourceAddress', 'portCount', 'updatedAt', 'needsRepair', 'name', 'externalPort']));
          seen++;
        }
      }
    }
    // rich-1's two rules, each reaching its VM's two rules again, and plain-1's one
    assert.equal(seen, 5);
    assert.ok([...truth.values()].some((r) => r.description === 'front door' && r.sourceAddress === '198.51.100.0/24'), 'precondition: the fields compared are not all null');
  });
});
