// Benchmark (not a test): two server processes sharing one database and one router (simulator,
// 500 ms commits) take 100 concurrent addPortRule between them: commits used, wall time, duplicates.
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench` (or node dist/bench/replicas.js).
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startTestApp } from '../test/support/app.js';
import { assertInSync } from '../test/support/in-sync.js';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { benchDatabase } from './database.js';
import { ms, percentile, printTable, verdict } from './figures.js';
import { describeMachine } from './machine.js';

const COMMIT_LATENCY_MS = Number(process.env.BENCH_COMMIT_LATENCY_MS ?? 500);
const MUTATIONS = 100;
const ADD = `mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { ruleNumber externalPort } }`;

/** Values that occur more than once. */
function duplicates(xs: number[]): number[] {
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([x]) => x);
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  // The in-process app migrates the database and owns the simulator; it takes none of the load.
  const t = await startTestApp({ db, sim: { commitLatencyMs: COMMIT_LATENCY_MS } });
  let replicas: ServerProcess[] = [];
  try {
    console.log(`replicas: ${MUTATIONS} concurrent addPortRule split over two server processes, one database, one simulator (commit latency ${COMMIT_LATENCY_MS} ms)`);
    console.log(`machine: ${await describeMachine(db.url)}`);
    const env = { DATABASE_URL: db.url, VYOS_URL: t.sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: t.adminKey };
    replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const vms = await Promise.all(replicas.map((r, i) => r.gql(`mutation($n: String!) { provisionVm(input: { name: $n }) { id } }`, { n: `replica-${i}` }, t.adminKey)));
    const ids = vms.map((v) => (v.data as { provisionVm: { id: string } }).provisionVm.id);

    const commits = t.sim.commitCount;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: MUTATIONS }, async (_, i) => {
        const s = performance.now();
        const res = await replicas[i % 2].gql(ADD, { vm: ids[i % 2], p: 5000 + i }, t.adminKey);
        return { res, ms: performance.now() - s, replica: i % 2 };
      }),
    );
    const wall = performance.now() - t0;
    const used = t.sim.commitCount - commits;

    const codes = new Map<string, number>();
    for (const { res } of results) {
      const code = res.errors?.[0]?.extensions?.code ?? 'OK';
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    const rules = results.flatMap(({ res }) => (res.data ? [(res.data as { addPortRule: { ruleNumber: number; externalPort: number } }).addPortRule] : []));

    // Duplicates as the clients saw them, and as the database holds them.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const dbRules = (await client.query('select rule_number, external_port from port_rule')).rows as { rule_number: number; external_port: number }[];
    await client.end();
    const dupRules = duplicates(rules.map((r) => r.ruleNumber)).length + duplicates(dbRules.map((r) => Number(r.rule_number))).length;
    const dupPorts = duplicates(rules.map((r) => r.externalPort)).length + duplicates(dbRules.map((r) => Number(r.external_port))).length;

    let inSync = 'yes';
    try {
      await assertInSync(t);
    } catch (e) {
      inSync = `NO: ${(e as Error).message.split('\n')[0]}`;
    }
    const report = await replicas[0].gql(`{ syncReport { inSync items { kind } } }`, {}, t.adminKey);
    const syncReport = (report.data as { syncReport: { inSync: boolean } } | undefined)?.syncReport.inSync;

    const latencies = (replica: number) => results.filter((r) => r.replica === replica).map((r) => r.ms);
    console.log('');
    printTable(
      ['figure', 'value'],
      [
        ['mutations', `${MUTATIONS} (${MUTATIONS / 2} per replica)`],
        ['outcomes', JSON.stringify(Object.fromEntries(codes))],
        ['router commits used', `${used} (unbatched: ${MUTATIONS})`],
        ['wall time', ms(wall)],
        ['latency p50 / p99, replica A', `${ms(percentile(latencies(0), 50))} / ${ms(percentile(latencies(0), 99))}`],
        ['latency p50 / p99, replica B', `${ms(percentile(latencies(1), 50))} / ${ms(percentile(latencies(1), 99))}`],
        ['duplicate rule numbers (replies + database)', `${dupRules} (must be 0: ${verdict(dupRules === 0)})`],
        ['duplicate external ports (replies + database)', `${dupPorts} (must be 0: ${verdict(dupPorts === 0)})`],
        ['router and database in sync (row by row)', inSync],
        ['syncReport.inSync', String(syncReport)],
      ],
    );
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    await t.close();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
