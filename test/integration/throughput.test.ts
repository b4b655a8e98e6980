// Group commit and scale-out (issue 7): concurrent mutations share router commits, one bad
// change set fails alone, several server processes stay correct, reads never touch the router.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const ADD = `mutation($vm: ID!, $p: Port!, $d: String) { addPortRule(vmId: $vm, input: { internalPort: $p, description: $d }) { ruleNumber externalPort } }`;

describe('group commit in one process', () => {
  let t: TestApp;
  let vmId: string;
  before(async () => {
    t = await startTestApp({ sim: { commitLatencyMs: 200 } });
    vmId = ok(await t.gql(`mutation { provisionVm(input: { name: "batch-target" }) { id } }`)).provisionVm.id;
  });
  after(async () => {
    await t?.close();
  });

  test('30 concurrent mutations use a few router commits, not 30', async () => {
    const commits = t.sim.commitCount;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => t.gql(ADD, { vm: vmId, p: 2000 + i })));
    results.forEach((r) => ok(r));
    const used = t.sim.commitCount - commits;
    assert.ok(used <= 3, `30 mutations took ${used} router commits`);
    await assertInSync(t);
  });

  test('a change set that fails validation inside a batch fails alone', async () => {
    const results = await Promise.all([
      ...Array.from({ length: 9 }, (_, i) => t.gql(ADD, { vm: vmId, p: 3000 + i })),
      t.gql(`mutation { provisionVm(input: { name: "batch-target" }) { id } }`), // name taken: CONFLICT in its savepoint
    ]);
    assert.equal(results.slice(0, 9).filter((r) => !r.errors).length, 9);
    assert.equal(errorCode(results[9]), 'CONFLICT');
    await assertInSync(t);
  });

  test('a change set the router refuses fails alone with ROUTER_REJECTED; the rest of its batch still commits', async () => {
    t.sim.faults.rejectCommandsMatching('poisoned');
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => t.gql(ADD, { vm: vmId, p: 4000 + i, d: i === 4 ? 'poisoned rule' : `fine ${i}` })),
      );
      const failed = results.map((r, i) => [i, errorCode(r)] as const).filter(([, c]) => c);
      assert.deepEqual(failed, [[4, 'ROUTER_REJECTED']]);
      assert.match(results[4].errors![0].message, /simulated refusal/);
    } finally {
      t.sim.faults.clear();
    }
    await assertInSync(t);
  });

  test('reads never touch the router: they work while it is unreachable, with a bounded number of queries', async () => {
    await t.sim.faults.setUnreachable(true);
    try {
      const knex = t.app.orm.em.getConnection().getKnex();
      let queries = 0;
      const count = () => queries++;
      knex.on('query', count);
      const data = ok(await t.gql(`{ vms(first: 50) { totalCount edges { node { name portRules { ruleNumber vm { name } } } } } }`));
      knex.removeListener('query', count);
      const rules = data.vms.edges.flatMap((e: { node: { portRules: unknown[] } }) => e.node.portRules);
      assert.ok(rules.length >= 40, `enough rules to matter (${rules.length})`);
      // auth lookup + page + count + one batched load per relation level, whatever the page size
      assert.ok(queries <= 6, `${queries} queries for ${rules.length} rules`);
    } finally {
      await t.sim.faults.setUnreachable(false);
    }
  });
});

describe('two server processes against one database and one router', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (TEST_DATABASE_URL)' }, () => {
  let t: TestApp;
  let replicas: ServerProcess[] = [];
  before(async () => {
    // the in-process app only migrates the database and owns the simulator; the load goes to two processes
    t = await startTestApp({ sim: { commitLatencyMs: 200 } });
    const env = { DATABASE_URL: t.db.url, VYOS_URL: t.sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: t.adminKey };
    replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await t?.close();
  });

  test('100 concurrent mutations across two processes: all succeed, no duplicate port or rule number, in sync, far fewer commits', async () => {
    const [a, b] = replicas;
    const vms = await Promise.all([a, b].map((r, i) => r.gql(`mutation($n: String!) { provisionVm(input: { name: $n }) { id } }`, { n: `replica-${i}` }, t.adminKey)));
    const ids = vms.map((v) => (v.data as { provisionVm: { id: string } }).provisionVm.id);
    const commits = t.sim.commitCount;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => replicas[i % 2].gql(ADD, { vm: ids[i % 2], p: 5000 + i }, t.adminKey)),
    );
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK');
    assert.deepEqual([...new Set(codes)], ['OK'], JSON.stringify(results.find((r) => r.errors)));
    const rules = results.map((r) => (r.data as { addPortRule: { ruleNumber: number; externalPort: number } }).addPortRule);
    assert.equal(new Set(rules.map((r) => r.ruleNumber)).size, 100, 'no duplicate rule numbers');
    assert.equal(new Set(rules.map((r) => r.externalPort)).size, 100, 'no duplicate ports');
    const used = t.sim.commitCount - commits;
    assert.ok(used <= 25, `100 mutations took ${used} router commits`);
    await assertInSync(t);
  });
});
