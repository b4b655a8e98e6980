// syncReport keeps the database half of its check between reports (src/drift/expected-cache.ts)
// while the router's rules generation stands still. These are the writers that must move it:
// SQL behind the API (psql, a restore), and another replica sharing the router and database.
// A report that kept an old picture of the database would show drift that is not there, or miss
// drift that is; reconcile acts on those findings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ok, sql, startTestApp, type TestApp } from '../support/app.js';

const REPORT = `{ syncReport { inSync items { kind ruleNumber fields { field expected actual } } } }`;
const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id internalIp portRules { id ruleNumber externalPort } } }`;
const ADD = `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 8080 }) { ruleNumber } }`;

type Item = { kind: string; ruleNumber: number; fields: { field: string; expected: string | null; actual: string | null }[] };

describe('syncReport after the database changed behind its back', () => {
  let t: TestApp;
  let vm: { id: string; internalIp: string; portRules: { id: string; ruleNumber: number; externalPort: number }[] };
  const report = async (app = t): Promise<{ inSync: boolean; items: Item[] }> => ok(await app.gql(REPORT, {})).syncReport;
  const generation = async () => Number((await sql(t, `select rules_generation from router`)).rows[0].rules_generation);

  before(async () => {
    t = await startTestApp();
    vm = ok(await t.gql(PROVISION, { input: { name: 'kept', portRules: [{ internalPort: 22 }, { internalPort: 80 }] } })).provisionVm;
    // Two reports with nothing changed: the second one is answered from what the first kept.
    assert.equal((await report()).inSync, true);
    assert.equal((await report()).inSync, true);
  });
  after(async () => {
    await t?.close();
  });

  test('a port changed with SQL shows as DRIFTED on the next report', async () => {
    const [first] = vm.portRules;
    const before = await generation();
    await sql(t, `update port_rule set external_port = external_port + 1000, tcp_port = tcp_port + 1000 where id = $1`, [first.id]);
    assert.ok((await generation()) > before, 'the statement trigger moved the generation');
    const r = await report();
    assert.deepEqual(r.items.map((i) => [i.kind, i.ruleNumber]), [['DRIFTED', first.ruleNumber]]);
    assert.deepEqual(r.items[0].fields, [{ field: 'externalPort', expected: String(first.externalPort + 1000), actual: String(first.externalPort) }]);
    await sql(t, `update port_rule set external_port = external_port - 1000, tcp_port = tcp_port - 1000 where id = $1`, [first.id]);
    assert.equal((await report()).inSync, true, 'and in sync again once it is put back');
  });

  test("a VM's address changed with SQL shows on both of its rules (the vm table moves it too)", async () => {
    await sql(t, `update vm set internal_ip = '192.168.64.250' where id = $1`, [vm.id]);
    const r = await report();
    assert.deepEqual(r.items.map((i) => [i.kind, i.fields.map((f) => [f.field, f.expected])]), vm.portRules.map(() => ['DRIFTED', [['translationAddress', '192.168.64.250']]]));
    await sql(t, `update vm set internal_ip = $2 where id = $1`, [vm.id, vm.internalIp]);
    assert.equal((await report()).inSync, true);
  });

  test("a rule added by another replica is in this replica's next report as ours, not as UNMANAGED_ON_ROUTER", async () => {
    const other = await startTestApp({ db: t.db, simulator: t.sim });
    try {
      assert.equal((await report(other)).inSync, true);
      const added = ok(await other.gql(ADD, { vm: vm.id })).addPortRule.ruleNumber;
      assert.ok(t.routerRules().some((r) => r.ruleNumber === added), 'the other replica wrote it to the router');
      assert.equal((await report()).inSync, true, 'this replica read the database again');
    } finally {
      await other.close();
    }
  });

  test('a rule deleted with SQL is UNMANAGED_ON_ROUTER, and a truncate makes every rule so', async () => {
    const [first] = vm.portRules;
    await sql(t, `delete from port_rule where id = $1`, [first.id]);
    assert.deepEqual((await report()).items.map((i) => [i.kind, i.ruleNumber]), [['UNMANAGED_ON_ROUTER', first.ruleNumber]]);
    await sql(t, `truncate port_rule`);
    const left = await report();
    assert.equal(left.items.length, t.routerRules().length);
    assert.ok(left.items.every((i) => i.kind === 'UNMANAGED_ON_ROUTER'));
  });
});
