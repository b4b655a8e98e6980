// dryRun on every router-changing mutation: the plan is exactly what the real call then sends
// (the simulator's log of committed /configure requests), and the dry run changes nothing, in
// the database or on the router. Real HTTP, real PostgreSQL, the simulator over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ok, startTestApp, type GqlResponse, type TestApp } from '../support/app.js';

const TABLES = ['vm', 'port_rule', 'idempotency_key', 'operation', 'rollback_event', 'snapshot', 'router_state'];
const VM = 'id name internalIp macAddress portRules { id name ruleNumber protocol externalPort internalPort sourceAddress description enabled vm { id name } }';
const RULE = 'id name ruleNumber protocol externalPort internalPort sourceAddress description enabled vm { id name internalIp }';

type Plan = { path: (string | number)[]; commands: { op: string; path: string[] }[] }[];

describe('dryRun: the exact commands, and nothing changed anywhere', () => {
  let t: TestApp;
  let db: pg.Client;
  let vmId = '';
  let ruleId = '';
  before(async () => {
    t = await startTestApp();
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await t?.close();
  });

  /** Every row of our tables, and the router's whole committed config. */
  const world = async () => {
    const rows: Record<string, unknown[]> = {};
    for (const table of TABLES) rows[table] = (await db.query(`select * from ${table} order by 1`)).rows;
    return { rows, router: t.sim.running(), commits: t.sim.commitCount, saves: t.sim.saveCount };
  };

  /**
   * The mutation as a dry run, then for real: the dry run leaves everything as it was, its plan
   * is what the router then receives, and its answer is what the real call answers.
   */
  async function compare(field: string, decl: string, mutation: string, vars: Record<string, unknown>, select = '') {
    const doc = (dry: boolean) => `mutation(${decl}) { ${field}: ${mutation.replace('$DRY', String(dry))} ${select} }`;
    const before = await world();
    const dryRes = (await t.gql(doc(true), vars)) as GqlResponse<Record<string, unknown>> & { extensions?: { dryRun?: Plan } };
    const planned = ok(dryRes)[field];
    assert.deepEqual(await world(), before, `${field}: the dry run changed nothing`);
    const plan = dryRes.extensions?.dryRun;
    assert.ok(plan, `${field}: extensions.dryRun is there`);
    assert.equal(plan.length, 1);
    assert.deepEqual(plan[0].path, [field]);
    assert.ok(plan[0].commands.length > 0, `${field}: a plan with commands`);
    const realRes = (await t.gql(doc(false), vars)) as GqlResponse<Record<string, unknown>> & { extensions?: unknown };
    const real = ok(realRes)[field];
    assert.equal(realRes.extensions, undefined, 'a real run has no dry-run extension');
    assert.equal(t.sim.commitCount - before.commits, 1);
    assert.deepEqual(t.sim.configured[t.sim.configured.length - 1], plan[0].commands, `${field}: the router received the plan`);
    return { planned, real };
  }

  test('provisionVm', async () => {
    const input = { name: 'dry-1', macAddress: '52:54:00:aa:bb:cc', portRules: [{ name: 'web', internalPort: 80 }, { internalPort: 53, protocol: 'UDP', sourceAddress: '198.51.100.0/24' }] };
    const { planned, real } = await compare('provisionVm', '$input: ProvisionVmInput!', 'provisionVm(input: $input, dryRun: $DRY)', { input }, `{ ${VM} }`);
    const strip = (vm: any) => ({ ...vm, id: undefined, portRules: vm.portRules.map((r: any) => ({ ...r, id: undefined, vm: { name: r.vm.name } })) });
    assert.deepEqual(strip(planned), strip(real), 'the VM as it would be is the VM as it is');
    vmId = (real as { id: string }).id;
  });

  test('addPortRule', async () => {
    const { planned, real } = await compare('addPortRule', '$vm: ID!', 'addPortRule(vmId: $vm, input: { name: "ssh", internalPort: 22, description: "ssh" }, dryRun: $DRY)', { vm: vmId }, `{ ${RULE} }`);
    assert.deepEqual({ ...(planned as object), id: undefined }, { ...(real as object), id: undefined });
    ruleId = (real as { id: string }).id;
  });

  test('updatePortRule', async () => {
    const { planned, real } = await compare('updatePortRule', '$id: ID!', 'updatePortRule(id: $id, input: { internalPort: 2222, sourceAddress: "203.0.113.7" }, dryRun: $DRY)', { id: ruleId }, `{ ${RULE} }`);
    assert.equal((planned as { internalPort: number }).internalPort, 2222, 'the rule as it would be');
    assert.deepEqual({ ...(planned as object), vm: undefined }, { ...(real as object), vm: undefined });
  });

  test('setPortRuleEnabled', async () => {
    const { planned, real } = await compare('setPortRuleEnabled', '$id: ID!', 'setPortRuleEnabled(id: $id, enabled: false, dryRun: $DRY)', { id: ruleId }, `{ ${RULE} }`);
    assert.equal((planned as { enabled: boolean }).enabled, false);
    assert.deepEqual({ ...(planned as object), vm: undefined }, { ...(real as object), vm: undefined });
  });

  test('updateVm', async () => {
    const { planned, real } = await compare('updateVm', '$id: ID!', 'updateVm(id: $id, input: { internalIp: "192.168.64.150", name: "dry-2" }, dryRun: $DRY)', { id: vmId }, `{ ${VM} }`);
    assert.equal((planned as { internalIp: string }).internalIp, '192.168.64.150');
    assert.deepEqual(planned, real);
  });

  test('applyVm: the commands are in the result (and in the extension)', async () => {
    const input = { name: 'dry-2', portRules: [{ name: 'web', internalPort: 8080 }, { name: 'metrics', internalPort: 9100 }] };
    const select = '{ created changed dryRun vm { id internalIp portRules { name internalPort } } rules { name change ruleNumber externalPort portRule { id } } commands { op path } }';
    const { planned, real } = (await compare('applyVm', '$input: ApplyVmInput!', 'applyVm(input: $input, dryRun: $DRY)', { input }, select)) as { planned: any; real: any };
    assert.equal(planned.dryRun, true);
    assert.equal(real.dryRun, false);
    assert.deepEqual(planned.commands, real.commands);
    assert.deepEqual(planned.commands, t.sim.configured[t.sim.configured.length - 1]);
    assert.deepEqual(planned.rules.map((r: any) => ({ ...r, portRule: null })), real.rules.map((r: any) => ({ ...r, portRule: null })));
    assert.ok(planned.rules.every((r: any) => r.portRule === null));
    assert.deepEqual(planned.vm.portRules.map((r: any) => r.name).sort(), ['metrics', 'web'], 'the VM as it would be');
    const created = ok(await t.gql(`mutation($input: ApplyVmInput!) { applyVm(input: $input, dryRun: true) { created vm { id } commands { op } } }`, { input: { name: 'dry-new', portRules: [{ name: 'a', internalPort: 1 }] } })).applyVm;
    assert.deepEqual([created.created, created.vm], [true, null], 'a VM that would be created is null');
    assert.ok(real.rules.some((r: any) => r.name === 'ssh' && r.change === 'REMOVED'), 'the ssh rule was not in the list');
    ruleId = real.rules.find((r: any) => r.name === 'web').portRule.id;
  });

  test('removePortRule', async () => {
    const { planned, real } = await compare('removePortRule', '$id: ID!', 'removePortRule(id: $id, dryRun: $DRY)', { id: ruleId });
    assert.equal(planned, ruleId);
    assert.equal(real, ruleId);
  });

  test('decommissionVm', async () => {
    const { planned, real } = await compare('decommissionVm', '$id: ID!', 'decommissionVm(id: $id, dryRun: $DRY)', { id: vmId });
    assert.equal(planned, vmId);
    assert.equal(real, vmId);
  });

  test('a dry run that would send nothing has an empty plan; two dry runs in one operation have one entry each', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "dry-3", portRules: [{ internalPort: 80 }] }) { id portRules { id } } }`)).provisionVm;
    const res = (await t.gql(
      `mutation($id: ID!, $r: ID!) { a: updateVm(id: $id, input: { macAddress: "52:54:00:00:00:09" }, dryRun: true) { macAddress } b: removePortRule(id: $r, dryRun: true) }`,
      { id: vm.id, r: vm.portRules[0].id },
    )) as GqlResponse<any> & { extensions?: { dryRun?: Plan } };
    assert.equal(ok(res).a.macAddress, '52:54:00:00:00:09');
    assert.deepEqual(res.extensions?.dryRun?.map((p) => [p.path, p.commands.length]), [[['a'], 0], [['b'], 1]]);
    const after = ok(await t.gql(`query($id: ID!) { vm(id: $id) { macAddress portRules { id } } }`, { id: vm.id })).vm;
    assert.deepEqual(after, { macAddress: null, portRules: [{ id: vm.portRules[0].id }] });
  });
});
