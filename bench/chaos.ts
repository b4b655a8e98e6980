// Chaos run (not a benchmark of speed): for each seed and each commit path, a bounded random burst
// of mutations at two server replicas while router faults are armed and one replica is SIGKILLed;
// then the API's rules must equal the router's, syncReport must be in sync, no journal row open.
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench:chaos`
//   CHAOS_SEED=3 (or 1,2,5) replays seeds; CHAOS_PATH=rolling|1.4 one path; CHAOS_SECONDS=40 per run;
//   CHAOS_LOG_DIR (default /tmp/chaos-logs) for the replicas' JSON logs and the run's timeline.
import 'reflect-metadata';
import { formatChaosResult, runChaos, type ChaosResult, type CommitPath } from '../test/support/chaos-run.js';
import { benchDatabase } from './database.js';
import { printTable } from './figures.js';
import { describeMachine } from './machine.js';

const SEEDS = (process.env.CHAOS_SEED ?? '1,2,3,4').split(',').map((s) => Number(s.trim()));
const PATHS = (process.env.CHAOS_PATH ?? 'rolling,1.4').split(',').map((s) => s.trim()) as CommitPath[];
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 40);
// e.g. CHAOS_SERVER_ENV='VYOS_FIREWALL=manage VYOS_HAIRPIN=on VYOS_LAN_INTERFACE=eth1 ...': the owned rules go through the same faults
const SERVER_ENV = Object.fromEntries((process.env.CHAOS_SERVER_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

async function main(): Promise<void> {
  if (SEEDS.some((s) => !Number.isInteger(s))) throw new Error(`CHAOS_SEED: integers, comma-separated (got ${process.env.CHAOS_SEED})`);
  if (PATHS.some((p) => p !== 'rolling' && p !== '1.4')) throw new Error(`CHAOS_PATH: rolling and/or 1.4 (got ${process.env.CHAOS_PATH})`);
  if (!(SECONDS > 0 && SECONDS <= 600)) throw new Error(`CHAOS_SECONDS: 1-600 (got ${process.env.CHAOS_SECONDS})`);
  // only to learn the admin URL (createTestDatabase then makes one database per run) and the machine
  const probe = await benchDatabase();
  console.log(`chaos: seeds ${SEEDS.join(',')} x paths ${PATHS.join(',')}, ${SECONDS} s bursts, two replicas each`);
  console.log(`machine: ${await describeMachine(probe.url)}`);
  await probe.drop();

  const results: ChaosResult[] = [];
  for (const seed of SEEDS) {
    for (const path of PATHS) {
      const r = await runChaos({ seed, path, seconds: SECONDS, logDir: process.env.CHAOS_LOG_DIR, progress: (l) => console.error(l), serverEnv: SERVER_ENV });
      console.log(formatChaosResult(r));
      results.push(r);
    }
  }
  console.log('');
  printTable(
    ['seed', 'path', 'sent', 'ok', 'failed', 'faults', 'kills', 'rollback events', 'time', 'result'],
    results.map((r) => [
      String(r.seed),
      r.path,
      String(r.mutations.sent),
      String(r.mutations.ok),
      Object.entries(r.mutations.failed).map(([k, v]) => `${k} ${v}`).join(', '),
      String(Object.values(r.faults).reduce((s, n) => s + n, 0)),
      String(r.kills),
      Object.entries(r.rollbackEvents).map(([k, v]) => `${k} ${v}`).join(', '),
      `${r.seconds} s`,
      r.pass ? 'PASS' : `FAIL (${r.differences.length})`,
    ]),
  );
  const failed = results.filter((r) => !r.pass);
  if (failed.length) {
    console.log(`\n${failed.length} of ${results.length} runs FAILED: ${failed.map((r) => `seed ${r.seed}/${r.path}`).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
