// Issue 16, the safety side of cost in proportion to the change: an ordinary batch reads only the
// rules it touches and allocates from the picture of the router it keeps, so these tests check
// what that picture may not get wrong between two syncs, and that allocation from indexed probes
// stays exact (lowest free value, freed values found again) and unique across replicas.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterCommand, RouterRule } from '../../src/vyos/types.js';

const PROVISION = `mutation($name: String!, $rules: [PortRuleInput!]) { provisionVm(input: { name: $name, portRules: $rules }) { id internalIp portRules { id ruleNumber externalPort } } }`;
const ADD = `mutation($vm: ID!, $port: Port!) { addPortRule(vmId: $vm, input: { internalPort: $port }) { id ruleNumber externalPort } }`;
const UPDATE = `mutation($id: ID!, $port: Port!) { updatePortRule(id: $id, input: { internalPort: $port }) { id } }`;
const REMOVE = `mutation($id: ID!) { removePortRule(id: $id) }`;
const DECOMMISSION = `mutation($id: ID!) { decommissionVm(id: $id) }`;
const REPORT = `{ syncReport { inSync items { kind ruleNumber } } }`;

const WHOLE = JSON.stringify(['nat', 'destination']);
const foreignRule = (ruleNumber: number, port: string): RouterRule => ({
  ruleNumber,
  protocol: 'tcp',
  externalPort: port,
  translationAddress: '10.9.9.9',
  inboundInterface: 'eth0',
  description: 'made by hand',
  disabled: false,
});

/** The showConfig paths the simulator answered from index `from` on. */
function readsSince(t: TestApp, from: number): string[] {
  return t.sim.showConfigPaths.slice(from).map((p) => JSON.stringify(p));
}

describe('an ordinary change reads only what it touches, and is safe between syncs', () => {
  let t: TestApp;
  let vmId: string;

  before(async () => {
    t = await startTestApp();
    // Enough foreign rules (outside NAT_RULE_RANGE) that a whole read clearly costs more than one rule's.
    const commands: RouterCommand[] = [];
    for (let n = 1; n <= 1500; n++) commands.push(...renderRule(foreignRule(n, String(1000 + n)), { syntax: '1.4' }));
    t.sim.apply(commands);
    vmId = ok(await t.gql(PROVISION, { name: 'web', rules: [{ internalPort: 80 }] })).provisionVm.id;
  });
  after(async () => {
    await t?.close();
  });

  test('addPortRule reads the one rule it adds (before and after the commit), never the whole tree', async () => {
    const from = t.sim.showConfigPaths.length;
    const rule = ok(await t.gql(ADD, { vm: vmId, port: 81 })).addPortRule;
    const reads = readsSince(t, from);
    assert.ok(!reads.includes(WHOLE), `no whole read: ${reads.join(' ')}`);
    assert.deepEqual(new Set(reads), new Set([JSON.stringify(['nat', 'destination', 'rule', String(rule.ruleNumber)])]));
    assert.equal(reads.length, 2, 'the touched read before planning and the read-back');
  });

  test('a whole read moves the picture\'s port index for a rule changed by hand, and keeps the unchanged ones', async () => {
    const tcp = { tcp: true, udp: false };
    const picture = t.app.coordinator.picture;
    ok(await t.gql(REPORT)); // syncReport reads the whole rule set, and the picture takes it
    assert.ok(picture.catching(1001, tcp).includes(1));
    t.sim.apply(renderRule(foreignRule(1, '7777'), { syntax: '1.4' }));
    ok(await t.gql(REPORT));
    assert.ok(!picture.catching(1001, tcp).includes(1), 'the old port is no longer caught by rule 1');
    assert.deepEqual(picture.catching(7777, tcp), [1]);
    assert.deepEqual(picture.catching(1002, tcp), [2], 'an unchanged rule stays indexed');
    t.sim.apply(renderRule(foreignRule(1, '1001'), { syntax: '1.4' }));
    ok(await t.gql(REPORT));
    assert.deepEqual(picture.catching(1001, tcp), [1]);
    assert.deepEqual(picture.catching(7777, tcp), []);
  });

  test('a foreign rule made between syncs on the number we would allocate next is never overwritten', async () => {
    const rules = ok(await t.gql(`query($id: ID!) { vm(id: $id) { portRules { ruleNumber } } }`, { id: vmId })).vm.portRules;
    const next = Math.max(...rules.map((r: { ruleNumber: number }) => r.ruleNumber)) + 1;
    const hand = foreignRule(next, '40001');
    t.sim.apply(renderRule(hand, { syntax: '1.4' }));
    const commitsBefore = t.sim.commitCount;
    const added = ok(await t.gql(ADD, { vm: vmId, port: 82 })).addPortRule;
    assert.notEqual(added.ruleNumber, next, 'allocated around the foreign rule');
    assert.equal(added.ruleNumber, next + 1);
    const onRouter = t.routerRules().find((r) => r.ruleNumber === next);
    assert.equal(onRouter?.description, 'made by hand');
    assert.equal(onRouter?.translationAddress, '10.9.9.9');
    assert.equal(t.sim.commitCount, commitsBefore + 1, 'one commit: the batch was prepared again before anything was sent');
    const drift = ok(await t.gql(REPORT)).syncReport.items.filter((i: { ruleNumber: number }) => i.ruleNumber === next);
    assert.deepEqual(drift.map((i: { kind: string }) => i.kind), ['UNMANAGED_ON_ROUTER'], 'and drift shows it as someone else\'s');
  });

  test('a rule of ours changed by hand between syncs is put back as it was on the router, not as the picture had it', async () => {
    const rule = ok(await t.gql(ADD, { vm: vmId, port: 83 })).addPortRule;
    const n = String(rule.ruleNumber);
    t.sim.apply([{ op: 'set', path: ['nat', 'destination', 'rule', n, 'description', 'edited by hand'] }]);
    const edited = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)!;
    // The read-back will differ from the intent: the change is undone on the router.
    t.sim.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'destination', 'rule', n, 'translation', 'port', '9999'] }]);
    const res = await t.gql(UPDATE, { id: rule.id, port: 8083 });
    assert.equal(errorCode(res), 'ROUTER_REJECTED');
    const now = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber);
    assert.deepEqual(now, edited, 'the undo restored what was on the router before the batch, the hand edit included');
  });
});

describe('a fresh process times touched reads before it trusts its cost model', () => {
  let t: TestApp;
  after(async () => {
    await t?.close();
  });

  test('its first batch of several changes reads their rules one by one, not the whole tree', async () => {
    // a window wide enough that the three requests below share one batch
    t = await startTestApp({ env: { BATCH_WINDOW_MS: '300' } });
    const commands: RouterCommand[] = [];
    for (let n = 1; n <= 1500; n++) commands.push(...renderRule(foreignRule(n, String(1000 + n)), { syntax: '1.4' }));
    t.sim.apply(commands);
    ok(await t.gql(REPORT)); // a whole read, timed: nothing one by one has been timed yet
    const from = t.sim.showConfigPaths.length;
    const commits = t.sim.commitCount;
    const made = await Promise.all(['a', 'b', 'c'].map((name) => t.gql(PROVISION, { name, rules: [{ internalPort: 80 }] })));
    assert.equal(t.sim.commitCount - commits, 1, 'one batch');
    const numbers = made.map((r) => ok(r).provisionVm.portRules[0].ruleNumber as number);
    const reads = readsSince(t, from);
    assert.ok(!reads.includes(WHOLE), `no whole read: ${reads.join(' ')}`);
    assert.deepEqual(new Set(reads), new Set(numbers.map((n) => JSON.stringify(['nat', 'destination', 'rule', String(n)]))));
  });
});

describe('allocation from indexed probes across two replicas', { skip: !process.env.TEST_DATABASE_URL && 'two replicas need PostgreSQL' }, () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  before(async () => {
    db = await createTestDatabase();
    a = await startTestApp({ db, env: { EXTERNAL_PORT_RANGE: '32000-32999', NAT_RULE_RANGE: '10000-10999' } });
    b = await startTestApp({ db, simulator: a.sim, env: { EXTERNAL_PORT_RANGE: '32000-32999', NAT_RULE_RANGE: '10000-10999' } });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  test('30 concurrent adds on two replicas: no number or port twice, router and database in sync', async () => {
    const vmA = ok(await a.gql(PROVISION, { name: 'a1', rules: [] })).provisionVm.id;
    const vmB = ok(await b.gql(PROVISION, { name: 'b1', rules: [] })).provisionVm.id;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a.gql(ADD, { vm: vmA, port: 1000 + i }) : b.gql(ADD, { vm: vmB, port: 1000 + i }))),
    );
    const rules = results.map((r) => ok(r).addPortRule as { ruleNumber: number; externalPort: number });
    assert.equal(new Set(rules.map((r) => r.ruleNumber)).size, 30);
    assert.equal(new Set(rules.map((r) => r.externalPort)).size, 30);
    // Lowest free values: together they fill the start of each range.
    assert.deepEqual(rules.map((r) => r.ruleNumber).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => 10000 + i));
    assert.deepEqual(rules.map((r) => r.externalPort).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => 32000 + i));
    assert.equal(ok(await a.gql(REPORT)).syncReport.inSync, true);
  });

  test('a number, port and address freed on one replica are handed out again by the other', async () => {
    const vm = ok(await a.gql(PROVISION, { name: 'freed', rules: [{ internalPort: 22 }] })).provisionVm;
    const [rule] = vm.portRules;
    ok(await b.gql(REMOVE, { id: rule.id }));
    const again = ok(await a.gql(ADD, { vm: vm.id, port: 23 })).addPortRule;
    assert.equal(again.ruleNumber, rule.ruleNumber, 'the freed rule number is the lowest free again');
    assert.equal(again.externalPort, rule.externalPort, 'and so is the freed port');
    ok(await b.gql(DECOMMISSION, { id: vm.id }));
    const next = ok(await a.gql(PROVISION, { name: 'after-freed', rules: [] })).provisionVm;
    assert.equal(next.internalIp, vm.internalIp, 'the freed LAN address is handed out again');
  });
});
