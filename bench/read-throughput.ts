// Benchmark (not a test): read throughput of `vms(first: 50)` (200 VMs with 2 rules each) with
// autocannon, next to a bare Apollo Server answering a constant, both as their own processes on
// this machine in the same run. Run: `TEST_DATABASE_URL=postgresql://... npm run bench`.
import 'reflect-metadata';
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startSimulator } from '../src/simulator/simulator.js';
import { startServerProcess } from '../test/support/server-process.js';
import { benchDatabase } from './database.js';
import { ms, printTable, ratio, verdict } from './figures.js';
import { describeMachine } from './machine.js';

const SECONDS = Number(process.env.BENCH_READ_SECONDS ?? 10);
const ROUNDS = 2;
const CONNECTIONS = Number(process.env.BENCH_READ_CONNECTIONS ?? 10);
const VMS = 200;
const GOAL = 0.5;
const DEFAULT_QUERY = `{ vms(first: 50) { edges { node { id name internalIp portRules { ruleNumber externalPort } } } } }`;
/** another read to load the server with instead (docs/performance.md, where the time goes) */
const VMS_QUERY = process.env.BENCH_READ_QUERY ?? DEFAULT_QUERY;
const CONSTANT_QUERY = `{ hello }`;

interface Target {
  label: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(target: Target, seconds: number): Promise<Figures> {
  const r = await autocannon({
    url: `${target.url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    connections: CONNECTIONS,
    duration: seconds,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

/** One request by hand first: a benchmark of error replies would measure nothing. */
async function check(target: Target, expect: (data: any) => boolean): Promise<void> {
  const res = await fetch(`${target.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: target.body });
  const json = (await res.json()) as { data?: unknown; errors?: unknown };
  if (!res.ok || json.errors || !expect(json.data)) throw new Error(`${target.label}: unexpected reply ${JSON.stringify(json).slice(0, 500)}`);
}

function startBareApollo(): Promise<{ url: string; child: ChildProcess }> {
  // Both servers run as deployed: NODE_ENV=production (graphql-js skips its development checks).
  const child = spawn(process.execPath, [path.join(__dirname, 'bare-apollo.js')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare Apollo exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(String(d));
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, child });
    });
  });
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const sim = await startSimulator({ keys: ['sim-key'], version: 'rolling' });
  const admin = `admin-${randomBytes(12).toString('hex')}`;
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    VYOS_URL: sim.url,
    VYOS_API_KEY: 'sim-key',
    ADMIN_API_KEY: admin,
    RATE_LIMIT_READS_PER_MINUTE: '0',
    LAN_POOL: '192.168.64.1-192.168.65.254',
    NODE_ENV: 'production',
  });
  const bare = await startBareApollo();
  try {
    console.log(`read throughput: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per target, alternating`);
    console.log(`machine: ${await describeMachine(db.url)}`);

    // Seed through the API, in chunks the coordinator batches.
    for (let start = 0; start < VMS; start += 50) {
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          server.gql(`mutation($n: String!) { provisionVm(input: { name: $n, portRules: [{ internalPort: 22 }, { internalPort: 80 }] }) { id } }`, { n: `read-${start + k}` }, admin),
        ),
      );
      const bad = replies.find((r) => r.errors);
      if (bad) throw new Error(`seeding failed: ${JSON.stringify(bad.errors)}`);
    }
    // A reader's own key (looked up per request like any key), not the admin one.
    const created = await server.gql(`mutation { createApiKey(name: "bench reader", role: VIEWER) { secret } }`, {}, admin);
    const viewer = (created.data as { createApiKey: { secret: string } }).createApiKey.secret;

    const targets: Target[] = [
      { label: VMS_QUERY === DEFAULT_QUERY ? 'vyos-vm-api vms(first: 50)' : `vyos-vm-api ${VMS_QUERY}`, url: server.url, body: JSON.stringify({ query: VMS_QUERY }), headers: { authorization: `Bearer ${viewer}` } },
      { label: 'bare Apollo { hello }', url: bare.url, body: JSON.stringify({ query: CONSTANT_QUERY }), headers: {} },
    ];
    await check(targets[0], (d) => VMS_QUERY !== DEFAULT_QUERY || (d.vms.edges.length === 50 && d.vms.edges.every((e: any) => e.node.portRules.length === 2)));
    await check(targets[1], (d) => d.hello === 'world');

    for (const t of targets) await load(t, 3); // warm-up: JIT, pools, caches
    const runs: Figures[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, t] of targets.entries()) {
        const f = await load(t, SECONDS);
        runs[i].push(f);
        console.log(`  round ${round + 1} ${t.label}: ${f.rps.toFixed(0)} req/s, p50 ${ms(f.p50)}, p99 ${ms(f.p99)}`);
      }
    }
    const avg = (fs: Figures[], k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
    const [api, yard] = runs;
    const r = avg(api, 'rps') / avg(yard, 'rps');
    console.log('');
    printTable(
      ['target', 'req/s', 'p50', 'p99', 'non-2xx', 'errors'],
      targets.map((t, i) => [t.label, avg(runs[i], 'rps').toFixed(0), ms(avg(runs[i], 'p50')), ms(avg(runs[i], 'p99')), avg(runs[i], 'non2xx'), avg(runs[i], 'errors')]),
    );
    console.log(`\nratio vyos-vm-api / bare Apollo: ${ratio(r)} (goal >= ${GOAL}: ${verdict(r >= GOAL)})`);
  } finally {
    bare.child.kill('SIGTERM');
    await server.stop();
    await sim.close();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
