// applyVm and updateVm end to end: GraphQL over real HTTP, real PostgreSQL, the simulator over
// HTTP. Router commits are counted by the simulator, and what it received is its `configured` log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const APPLY = `mutation($input: ApplyVmInput!, $key: String, $dry: Boolean) { applyVm(input: $input, idempotencyKey: $key, dryRun: $dry) {
  created changed dryRun
  vm { id name internalIp macAddress portRules { id name ruleNumber externalPort internalPort protocol enabled } }
  rules { name change portRuleId ruleNumber externalPort portRule { id name ruleNumber externalPort } }
  commands { op path } } }`;

type Rule = { id: string; name: string | null; ruleNumber: number; externalPort: number; internalPort: number; protocol: string; enabled: boolean };
type Change = { name: string; change: string; portRuleId: string; ruleNumber: number; externalPort: number; portRule: { id: string } | null };

const web = (rules: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({ name: 'app-1', portRules: rules, ...extra });
const HTTP = { name: 'http', internalPort: 80 };
const HTTPS = { name: 'https', internalPort: 443, protocol: 'TCP_UDP' };
const SSH = { name: 'ssh', internalPort: 22, sourceAddress: '203.0.113.0/24' };

describe('applyVm and updateVm through one router transaction', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  const apply = async (input: unknown, vars: Record<string, unknown> = {}) => ok(await t.gql(APPLY, { input, ...vars })).applyVm;
  const onRouter = () => new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
  const lastSent = () => t.sim.configured[t.sim.configured.length - 1];

  test('applyVm twice with the same input: one router commit the first time, none the second', async () => {
    const commits = t.sim.commitCount;
    const first = await apply(web([HTTP, HTTPS, SSH]));
    assert.equal(t.sim.commitCount - commits, 1, 'the whole VM in one commit');
    assert.equal(first.created, true);
    assert.equal(first.changed, true);
    assert.deepEqual(first.rules.map((r: Change) => [r.name, r.change]), [['http', 'CREATED'], ['https', 'CREATED'], ['ssh', 'CREATED']]);
    assert.deepEqual(first.commands, lastSent(), 'the result lists exactly what the router received');
    for (const r of first.rules as Change[]) assert.equal(onRouter().get(r.ruleNumber)?.externalPort, String(r.externalPort));

    const second = await apply(web([HTTP, HTTPS, SSH]));
    assert.equal(t.sim.commitCount - commits, 1, 'no router write for a converged VM');
    assert.equal(second.created, false);
    assert.equal(second.changed, false);
    assert.deepEqual(second.commands, []);
    assert.deepEqual(second.rules.map((r: Change) => r.change), ['UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
    assert.deepEqual(second.rules.map((r: Change) => [r.ruleNumber, r.externalPort, r.portRuleId]), first.rules.map((r: Change) => [r.ruleNumber, r.externalPort, r.portRuleId]));
    assert.equal(second.vm.id, first.vm.id);
  });

  test('changing one rule touches only that rule on the router; the others keep number and port', async () => {
    const before = await apply(web([HTTP, HTTPS, SSH]));
    const commits = t.sim.commitCount;
    const routerBefore = onRouter();
    const after = await apply(web([HTTP, { ...HTTPS, internalPort: 8443 }, SSH]));
    assert.equal(t.sim.commitCount - commits, 1);
    assert.deepEqual(after.rules.map((r: Change) => r.change), ['UNCHANGED', 'UPDATED', 'UNCHANGED']);
    assert.deepEqual(after.rules.map((r: Change) => [r.ruleNumber, r.externalPort]), before.rules.map((r: Change) => [r.ruleNumber, r.externalPort]), 'same numbers and ports');
    const https = after.rules[1] as Change;
    const touched = new Set(lastSent().map((c) => c.path[3]));
    assert.deepEqual([...touched], [String(https.ruleNumber)], 'only the changed rule was sent');
    assert.equal(onRouter().get(https.ruleNumber)?.internalPort, '8443');
    for (const r of [after.rules[0], after.rules[2]] as Change[]) assert.deepEqual(onRouter().get(r.ruleNumber), routerBefore.get(r.ruleNumber));
  });

  test('a rule left out of the list is removed on the router; a new one is added, in the same commit', async () => {
    const before = await apply(web([HTTP, { ...HTTPS, internalPort: 8443 }, SSH]));
    const ssh = before.rules[2] as Change;
    const commits = t.sim.commitCount;
    const after = await apply(web([HTTP, { ...HTTPS, internalPort: 8443 }, { name: 'metrics', internalPort: 9100, externalPort: 32900 }]));
    assert.equal(t.sim.commitCount - commits, 1);
    assert.deepEqual(after.rules.map((r: Change) => [r.name, r.change]), [['http', 'UNCHANGED'], ['https', 'UNCHANGED'], ['metrics', 'CREATED'], ['ssh', 'REMOVED']]);
    assert.equal(after.rules[3].portRule, null);
    // A removed rule's number and port are free for the rules of the same commit.
    const ip = after.vm.internalIp;
    assert.equal(t.routerRules().some((r) => r.translationAddress === ip && r.internalPort === '22'), false, 'ssh is gone from the router');
    assert.equal(t.routerRules().filter((r) => r.translationAddress === ip).length, 3);
    assert.ok(lastSent().some((c) => c.op === 'delete' && c.path[3] === String(ssh.ruleNumber)));
    assert.equal(onRouter().get(after.rules[2].ruleNumber)?.externalPort, '32900');
    assert.deepEqual(after.vm.portRules.map((r: Rule) => r.name).sort(), ['http', 'https', 'metrics']);
  });

  test('input rules adopt unnamed rules with the same internal port and protocol: no renumbering, no router write', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "legacy", portRules: [{ internalPort: 80 }, { internalPort: 53, protocol: UDP }, { internalPort: 22 }] }) { id portRules { id ruleNumber externalPort internalPort } } }`)).provisionVm;
    const commits = t.sim.commitCount;
    const r = await apply({ name: 'legacy', portRules: [{ name: 'web', internalPort: 80 }, { name: 'dns', internalPort: 53, protocol: 'UDP' }, { name: 'ssh', internalPort: 22 }] });
    assert.equal(t.sim.commitCount, commits, 'adopting only names the rules');
    assert.deepEqual(r.rules.map((c: Change) => c.change), ['UPDATED', 'UPDATED', 'UPDATED'], 'the name is new');
    const byPort = new Map(vm.portRules.map((p: Rule) => [p.internalPort, p]));
    for (const c of r.rules as Change[]) {
      const old = [...byPort.values()].find((p) => (p as Rule).id === c.portRuleId) as Rule;
      assert.ok(old, 'the existing rule was adopted');
      assert.equal(c.ruleNumber, old.ruleNumber);
      assert.equal(c.externalPort, old.externalPort);
    }
    const again = await apply({ name: 'legacy', portRules: [{ name: 'web', internalPort: 80 }, { name: 'dns', internalPort: 53, protocol: 'UDP' }, { name: 'ssh', internalPort: 22 }] });
    assert.equal(again.changed, false);
  });

  test('20 concurrent applyVm calls for 20 VMs share router commits', async () => {
    const commits = t.sim.commitCount;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => apply({ name: `fleet-${i}`, portRules: [{ name: 'http', internalPort: 80 }, { name: 'ssh', internalPort: 22 }] })));
    const used = t.sim.commitCount - commits;
    assert.ok(used < 20, `${used} commits for 20 VMs`);
    assert.ok(results.every((r) => r.created));
    const ports = results.flatMap((r) => r.rules.map((c: Change) => c.externalPort));
    assert.equal(new Set(ports).size, 40);
    const router = onRouter();
    for (const r of results) for (const c of r.rules as Change[]) assert.equal(router.get(c.ruleNumber)?.translationAddress, r.vm.internalIp);
  });

  test('applyVm converges the MAC and internal IP; an IP change moves every translation address in one commit', async () => {
    const before = await apply(web([HTTP, { ...HTTPS, internalPort: 8443 }, { name: 'metrics', internalPort: 9100, externalPort: 32900 }]));
    const commits = t.sim.commitCount;
    const r = await apply(web([HTTP, { ...HTTPS, internalPort: 8443 }, { name: 'metrics', internalPort: 9100, externalPort: 32900 }], { internalIp: '192.168.64.190', macAddress: '52:54:00:00:00:01' }));
    assert.equal(t.sim.commitCount - commits, 1);
    assert.equal(r.vm.internalIp, '192.168.64.190');
    assert.equal(r.vm.macAddress, '52:54:00:00:00:01');
    for (const c of before.rules as Change[]) assert.equal(onRouter().get(c.ruleNumber)?.translationAddress, '192.168.64.190');
    assert.equal(errorCode(await t.gql(APPLY, { input: { name: 'other-vm', internalIp: '192.168.64.190', portRules: [] } })), 'CONFLICT');
  });

  test('updateVm: an IP change moves every rule\'s translation address in one commit; rename and MAC', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "mover", portRules: [{ internalPort: 80 }, { internalPort: 22, description: "ssh" }, { internalPort: 53, protocol: UDP }] }) { id portRules { ruleNumber } } }`)).provisionVm;
    const commits = t.sim.commitCount;
    const UPDATE = `mutation($id: ID!, $input: UpdateVmInput!) { updateVm(id: $id, input: $input) { id name internalIp macAddress portRules { ruleNumber } } }`;
    const moved = ok(await t.gql(UPDATE, { id: vm.id, input: { internalIp: '192.168.64.191' } })).updateVm;
    assert.equal(t.sim.commitCount - commits, 1, 'all rules in one commit');
    assert.equal(moved.internalIp, '192.168.64.191');
    for (const r of vm.portRules) assert.equal(onRouter().get(r.ruleNumber)?.translationAddress, '192.168.64.191');
    const renamed = ok(await t.gql(UPDATE, { id: vm.id, input: { name: 'mover-2', macAddress: '52:54:00:00:00:02' } })).updateVm;
    assert.equal(renamed.name, 'mover-2');
    assert.equal(renamed.macAddress, '52:54:00:00:00:02');
    // Rules without a description show the VM's name on the router: those two move, the "ssh" one stays.
    assert.equal(new Set(lastSent().map((c) => c.path[3])).size, 2);
    assert.equal(onRouter().get(vm.portRules[0].ruleNumber)?.description, 'vm mover-2');
    const macOnly = t.sim.commitCount;
    ok(await t.gql(UPDATE, { id: vm.id, input: { macAddress: null } }));
    assert.equal(t.sim.commitCount, macOnly, 'a MAC is not on the router');
    assert.equal(errorCode(await t.gql(UPDATE, { id: vm.id, input: { internalIp: '192.168.64.190' } })), 'CONFLICT', 'the address of app-1');
    assert.equal(errorCode(await t.gql(UPDATE, { id: vm.id, input: { name: 'app-1' } })), 'CONFLICT');
    assert.equal(errorCode(await t.gql(UPDATE, { id: vm.id, input: {} })), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(UPDATE, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'x' } })), 'NOT_FOUND');
  });

  test('bad applyVm input is refused with the field and changes nothing', async () => {
    const commits = t.sim.commitCount;
    const dup = await t.gql(APPLY, { input: web([HTTP, { ...HTTP, internalPort: 81 }]) });
    assert.equal(errorCode(dup), 'BAD_USER_INPUT');
    assert.match(dup.errors![0].message, /portRules\[1\]\.name/);
    assert.equal(errorCode(await t.gql(APPLY, { input: web([{ name: 'bad name', internalPort: 1 }]) })), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(APPLY, { input: web([{ name: 'a', internalPort: 1, externalPort: 32900 }, { name: 'b', internalPort: 2, externalPort: 32900 }]) })), 'CONFLICT');
    assert.equal(t.sim.commitCount, commits);
  });
});

describe('idempotency keys on creates and applies', () => {
  let t: TestApp;
  let db: pg.Client;
  let vmId = '';
  before(async () => {
    // A slow commit, so a client can hang up while its change is at the router.
    t = await startTestApp({ sim: { commitLatencyMs: 300 } });
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    vmId = ok(await t.gql(`mutation { provisionVm(input: { name: "idem-host" }) { id } }`)).provisionVm.id;
  });
  after(async () => {
    await db?.end();
    await t?.close();
  });

  const ADD = `mutation($vm: ID!, $input: PortRuleInput!, $key: String) { addPortRule(vmId: $vm, input: $input, idempotencyKey: $key) { id ruleNumber externalPort } }`;
  const ruleCount = async () => (await db.query<{ n: number }>('select count(*)::int as n from port_rule where vm_id = $1', [vmId])).rows[0].n;

  test('a retried addPortRule with the same key, after the reply, creates one rule and writes the router once', async () => {
    const rules = await ruleCount();
    const commits = t.sim.commitCount;
    const first = ok(await t.gql(ADD, { vm: vmId, input: { internalPort: 8080 }, key: 'add-1' })).addPortRule;
    const again = ok(await t.gql(ADD, { vm: vmId, input: { internalPort: 8080 }, key: 'add-1' })).addPortRule;
    assert.deepEqual(again, first);
    assert.equal(await ruleCount(), rules + 1);
    assert.equal(t.sim.commitCount - commits, 1);
  });

  test('the same request twice at once with one key: one rule (the second finds the first in its batch, or after it)', async () => {
    const rules = await ruleCount();
    const [a, b] = await Promise.all([0, 1].map(() => t.gql(ADD, { vm: vmId, input: { internalPort: 8081 }, key: 'add-2' })));
    assert.equal(ok(a).addPortRule.id, ok(b).addPortRule.id);
    assert.equal(await ruleCount(), rules + 1);
  });

  test('the client hangs up before the reply, then retries with the key: one rule', async () => {
    const rules = await ruleCount();
    const commits = t.sim.commitCount;
    const journal = async () => (await db.query<{ n: number }>('select count(*)::int as n from operation')).rows[0].n;
    const journalled = await journal();
    const abort = new AbortController();
    const cut = fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: ADD, variables: { vm: vmId, input: { internalPort: 8082 }, key: 'add-3' } }),
      signal: abort.signal,
    }).catch((e: Error) => e);
    // Hang up once the change is on its way to the router (its journal row is written first).
    while ((await journal()) === journalled) await new Promise((r) => setImmediate(r));
    abort.abort();
    assert.ok((await cut) instanceof Error, 'the client never saw the reply');
    const retry = ok(await t.gql(ADD, { vm: vmId, input: { internalPort: 8082 }, key: 'add-3' })).addPortRule;
    assert.equal(await ruleCount(), rules + 1);
    assert.equal(t.sim.commitCount - commits, 1, 'the retry did not write the router');
    assert.equal((await db.query('select id from port_rule where id = $1', [retry.id])).rowCount, 1);
  });

  test('the same key with a different input is a CONFLICT naming the key, and changes nothing', async () => {
    const rules = await ruleCount();
    const commits = t.sim.commitCount;
    const res = await t.gql(ADD, { vm: vmId, input: { internalPort: 9999 }, key: 'add-1' });
    assert.equal(errorCode(res), 'CONFLICT');
    assert.match(res.errors![0].message, /add-1/);
    assert.equal(res.errors![0].extensions?.idempotencyKey, 'add-1');
    const other = await t.gql(`mutation { provisionVm(input: { name: "idem-other", idempotencyKey: "add-1" }) { id } }`);
    assert.equal(errorCode(other), 'CONFLICT', 'a key is one request, whatever the mutation');
    assert.equal(await ruleCount(), rules);
    assert.equal(t.sim.commitCount, commits);
  });

  test('applyVm with a key: the retry gets the first result (not "unchanged") and writes nothing', async () => {
    const input = { name: 'idem-apply', portRules: [{ name: 'http', internalPort: 80 }] };
    const first = ok(await t.gql(APPLY, { input, key: 'apply-1' })).applyVm;
    const commits = t.sim.commitCount;
    const again = ok(await t.gql(APPLY, { input, key: 'apply-1' })).applyVm;
    assert.equal(t.sim.commitCount, commits);
    assert.equal(again.created, true, 'the first result');
    assert.deepEqual(again.rules.map((r: Change) => [r.change, r.ruleNumber]), first.rules.map((r: Change) => [r.change, r.ruleNumber]));
    assert.deepEqual(again.commands, first.commands);
    assert.equal(errorCode(await t.gql(APPLY, { input: { ...input, portRules: [] }, key: 'apply-1' })), 'CONFLICT');
    const row = (await db.query('select operation, result_ref from idempotency_key where key = $1', ['apply-1'])).rows[0];
    assert.deepEqual(row, { operation: 'applyVm', result_ref: first.vm.id });
  });

  test('createApiKey with a key: the retry is the same API key with a new secret (the lost one stops working)', async () => {
    const CREATE = `mutation($key: String, $name: String!) { createApiKey(name: $name, role: VIEWER, idempotencyKey: $key) { apiKey { id name } secret } }`;
    const count = async () => (await db.query<{ n: number }>('select count(*)::int as n from api_key')).rows[0].n;
    const keys = await count();
    const first = ok(await t.gql(CREATE, { key: 'key-1', name: 'ci' })).createApiKey;
    const again = ok(await t.gql(CREATE, { key: 'key-1', name: 'ci' })).createApiKey;
    assert.equal(again.apiKey.id, first.apiKey.id);
    assert.notEqual(again.secret, first.secret);
    assert.equal(await count(), keys + 1);
    assert.equal(errorCode(await t.gql('{ vms { totalCount } }', {}, { key: first.secret })), 'UNAUTHENTICATED', 'the secret of the lost reply no longer works');
    ok(await t.gql('{ vms { totalCount } }', {}, { key: again.secret }));
    assert.equal(errorCode(await t.gql(CREATE, { key: 'key-1', name: 'other' })), 'CONFLICT');
    assert.equal(await count(), keys + 1);
  });

  test('a key older than IDEMPOTENCY_RETENTION_HOURS is forgotten: it may be used again', async () => {
    await db.query(`update idempotency_key set created_at = now() - interval '25 hours' where key = 'add-1'`);
    const rules = await ruleCount();
    const fresh = ok(await t.gql(ADD, { vm: vmId, input: { internalPort: 9998 }, key: 'add-1' })).addPortRule;
    assert.equal(await ruleCount(), rules + 1);
    assert.equal((await db.query('select result_ref from idempotency_key where key = $1', ['add-1'])).rows[0].result_ref, fresh.id);
  });
});
