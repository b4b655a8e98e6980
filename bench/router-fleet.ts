// Benchmark (not a test): 100 concurrent addPortRule spread evenly over 1, 2 and 4 simulated
// routers behind one server, every simulator with the same commit latency (issue 18, docs/
// performance.md "A fleet of routers"). Each router is its own transaction domain, so the wall
// time should fall towards 1/N; printed against that ideal, with group commit off (BATCH_MAX=1:
// one router commit per change, where the parallelism shows whole) and on (the default).
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench:routers`.
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { ok, startTestApp } from '../test/support/app.js';
import { benchDatabase } from './database.js';
import { ms, printTable, ratio } from './figures.js';
import { describeMachine } from './machine.js';

const COMMIT_LATENCY_MS = Number(process.env.BENCH_COMMIT_LATENCY_MS ?? 100);
const MUTATIONS = 100;
const FLEETS = [1, 2, 4];
const ADD = `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 8080 }) { ruleNumber } }`;

interface Run {
  routers: number;
  wallMs: number;
  commits: number;
  failed: number;
}

async function run(routers: number, env: Record<string, string>): Promise<Run> {
  const db = await benchDatabase();
  const t = await startTestApp({ db, sim: { commitLatencyMs: COMMIT_LATENCY_MS }, env: { ROUTER_NAME: 'r0', ...env } });
  const extra: Simulator[] = [];
  try {
    for (let i = 1; i < routers; i++) {
      const sim = await startSimulator({ keys: [`bench-key-${i}`], commitLatencyMs: COMMIT_LATENCY_MS });
      extra.push(sim);
      process.env[`BENCH_ROUTER_KEY_${i}`] = `bench-key-${i}`;
      ok(await t.gql(`mutation($i: RegisterRouterInput!) { registerRouter(input: $i) { name } }`, { i: { name: `r${i}`, url: sim.url, credential: `env:BENCH_ROUTER_KEY_${i}` } }));
    }
    const vms: string[] = [];
    for (let i = 0; i < routers; i++) vms.push(ok(await t.gql(`mutation($r: String) { provisionVm(input: { name: "bench-${i}", router: $r }) { id } }`, { r: `r${i}` })).provisionVm.id);
    // warm-up: one change per router (first reads, JIT)
    await Promise.all(vms.map((vm) => t.gql(ADD, { vm })));
    const sims = [t.sim, ...extra];
    const commits = () => sims.reduce((n, s) => n + s.commitCount, 0);
    const before = commits();
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: MUTATIONS }, (_, i) => t.gql(ADD, { vm: vms[i % routers] })));
    const wallMs = performance.now() - t0;
    return { routers, wallMs, commits: commits() - before, failed: answers.filter((a) => a.errors?.length).length };
  } finally {
    await t.close();
    await Promise.all(extra.map((s) => s.close()));
    await db.drop();
  }
}

async function main(): Promise<void> {
  console.log(`router fleet: ${MUTATIONS} concurrent addPortRule over 1, 2 and 4 routers, simulator commit latency ${COMMIT_LATENCY_MS} ms each, in-process server over HTTP`);
  console.log(`machine: ${await describeMachine(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? '')}`);
  for (const [label, env] of [
    ['group commit off (BATCH_MAX=1)', { BATCH_MAX: '1' }],
    ['group commit on (default)', {}],
  ] as const) {
    const runs: Run[] = [];
    for (const n of FLEETS) {
      runs.push(await run(n, env));
      console.log(`  ${label}: ${n} router(s) done`);
    }
    const one = runs[0].wallMs;
    console.log('');
    console.log(label);
    printTable(
      ['routers', 'wall', 'router commits', 'failed', 'wall vs 1 router', 'ideal (1/N)', 'measured / ideal'],
      runs.map((r) => [r.routers, ms(r.wallMs), r.commits, r.failed, ratio(r.wallMs / one), ratio(1 / r.routers), ratio(r.wallMs / one / (1 / r.routers))]),
    );
    console.log('');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
