// Benchmark (not a test): N concurrent addPortRule against the simulator with a 500 ms commit,
// with group commit on (BATCH_MAX default) and off (BATCH_MAX=1, one router commit per change set).
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench` (or node dist/bench/commit-batching.js).
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { VyosClient } from '../src/vyos/client.js';
import { renderRule } from '../src/vyos/nat-rule.js';
import { ok, startTestApp, type TestApp } from '../test/support/app.js';
import { benchDatabase } from './database.js';
import { median, ms, percentile, printTable, ratio, verdict } from './figures.js';
import { describeMachine } from './machine.js';

const COMMIT_LATENCY_MS = Number(process.env.BENCH_COMMIT_LATENCY_MS ?? 500);
const LOADS = [1, 10, 30, 100];
const LONE_ROUNDS = 5;
const ADD = `mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { ruleNumber externalPort } }`;

interface LoadFigures {
  n: number;
  wallMs: number;
  commits: number;
  p50: number;
  p99: number;
  failed: number;
}

interface ModeFigures {
  loads: LoadFigures[];
  /** median time of one mutation with nothing else in flight */
  loneMs: number;
}

async function timedAdd(t: TestApp, vm: string, port: number): Promise<{ ms: number; failed: boolean }> {
  const t0 = performance.now();
  const res = await t.gql(ADD, { vm, p: port });
  return { ms: performance.now() - t0, failed: Boolean(res.errors?.length) };
}

async function runMode(label: string, env: Record<string, string>): Promise<ModeFigures> {
  const db = await benchDatabase();
  const t = await startTestApp({ db, sim: { commitLatencyMs: COMMIT_LATENCY_MS }, env });
  try {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "bench-target" }) { id } }`)).provisionVm.id as string;
    let port = 1000;
    await timedAdd(t, vm, port++); // warm-up: first router read, JIT

    const lone: number[] = [];
    for (let i = 0; i < LONE_ROUNDS; i++) lone.push((await timedAdd(t, vm, port++)).ms);

    const loads: LoadFigures[] = [];
    for (const n of LOADS) {
      const commits = t.sim.commitCount;
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, () => timedAdd(t, vm, port++)));
      const wallMs = performance.now() - t0;
      const latencies = results.map((r) => r.ms);
      loads.push({ n, wallMs, commits: t.sim.commitCount - commits, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed: results.filter((r) => r.failed).length });
      console.log(`  ${label}: N=${n} done in ${ms(wallMs)}`);
    }
    return { loads, loneMs: median(lone) };
  } finally {
    await t.close();
    await db.drop();
  }
}

/** A bare commit with commit-confirm plus the confirm, straight to the simulator: the floor. */
async function bareCommitConfirm(): Promise<number> {
  const db = await benchDatabase();
  const t = await startTestApp({ db, sim: { commitLatencyMs: COMMIT_LATENCY_MS } });
  try {
    const client = new VyosClient({ url: t.sim.url, key: 'sim-key' });
    const caps = await client.capabilities();
    // A rule outside NAT_RULE_RANGE, so it is the same kind of change the server makes.
    const rule = (n: number) =>
      renderRule({ ruleNumber: 500, description: `bench ${n}`, protocol: 'tcp', externalPort: '9500', internalPort: '22', translationAddress: '192.168.64.250', inboundInterface: 'eth0', disabled: false }, { syntax: caps.syntax });
    const cycle = async (n: number) => {
      const t0 = performance.now();
      await client.configure(rule(n), { confirmMinutes: 1 });
      await client.confirm();
      return performance.now() - t0;
    };
    await cycle(0);
    const rounds: number[] = [];
    for (let i = 1; i <= LONE_ROUNDS; i++) rounds.push(await cycle(i));
    return median(rounds);
  } finally {
    await t.close();
    await db.drop();
  }
}

async function main(): Promise<void> {
  console.log(`commit batching: N concurrent addPortRule, simulator commit latency ${COMMIT_LATENCY_MS} ms, in-process server over HTTP`);
  console.log(`machine: ${await describeMachine(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? '')}`);
  const bare = await bareCommitConfirm();
  const on = await runMode('batching on', {});
  const off = await runMode('batching off', { BATCH_MAX: '1' });

  console.log('');
  printTable(
    ['N', 'batched wall', 'commits', 'p50', 'p99', 'unbatched wall', 'commits', 'p50', 'p99', 'wall ratio', 'commit ratio', 'failed'],
    LOADS.map((n, i) => {
      const a = on.loads[i];
      const b = off.loads[i];
      return [n, ms(a.wallMs), a.commits, ms(a.p50), ms(a.p99), ms(b.wallMs), b.commits, ms(b.p50), ms(b.p99), ratio(b.wallMs / a.wallMs), ratio(b.commits / Math.max(1, a.commits)), `${a.failed}/${b.failed}`];
    }),
  );

  const thirty = on.loads.find((l) => l.n === 30)!;
  console.log('');
  printTable(
    ['goal', 'measured', 'verdict'],
    [
      ['one mutation <= 1.3x (commit + confirm)', `${ms(on.loneMs)} / ${ms(bare)} = ${ratio(on.loneMs / bare)}`, verdict(on.loneMs <= 1.3 * bare)],
      ['30 concurrent mutations in <= 3 router commits', `${thirty.commits} commits`, verdict(thirty.commits <= 3)],
      ['30 concurrent mutations in <= 4x one commit cycle', `${ms(thirty.wallMs)} / ${ms(on.loneMs)} = ${ratio(thirty.wallMs / on.loneMs)}`, verdict(thirty.wallMs <= 4 * on.loneMs)],
    ],
  );
  console.log(`(one commit cycle = median of ${LONE_ROUNDS} lone addPortRule: ${ms(on.loneMs)} batched, ${ms(off.loneMs)} with BATCH_MAX=1; bare commit + confirm: ${ms(bare)})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
