// Benchmark (not a test): read throughput of `vms(first: 50)` (200 VMs with 2 rules each) with
// autocannon, next to a bare Apollo Server answering a constant, all as their own processes on
// this machine in the same run. The server is measured three ways: as deployed (read cache on),
// with one committed write per second during the load (each empties the cache), and as a second
// process with READ_CACHE_MAX_BYTES=0 (every read computed from PostgreSQL).
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench`.
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
  /** runs beside the load (started before, stopped after) */
  during?: () => () => Promise<void>;
  /** the cache outcomes over the load, from the server's /metrics */
  metricsUrl?: string;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** share of requests answered from the read cache (NaN for the yardstick) */
  hits: number;
}

async function cacheOutcomes(metricsUrl: string | undefined): Promise<Record<string, number>> {
  if (!metricsUrl) return {};
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^vyos_vm_api_read_cache_requests_total\{outcome="(\w+)"\} (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function load(target: Target, seconds: number): Promise<Figures> {
  const before = await cacheOutcomes(target.metricsUrl);
  const stop = target.during?.();
  const r = await autocannon({
    url: `${target.url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    connections: CONNECTIONS,
    duration: seconds,
  });
  await stop?.();
  const after = await cacheOutcomes(target.metricsUrl);
  const moved = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const seen = moved('hit') + moved('miss') + moved('bypass');
  const hits = target.metricsUrl && seen > 0 ? moved('hit') / seen : NaN;
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, hits };
}

/** One committed change per second (a rule disabled, then enabled again), until stopped. */
function writer(gql: (q: string, v: Record<string, unknown>) => Promise<{ errors?: unknown }>, ruleId: string): () => () => Promise<void> {
  return () => {
    let running = true;
    let enabled = true;
    const loop = (async () => {
      while (running) {
        const started = Date.now();
        enabled = !enabled;
        const r = await gql(`mutation($id: ID!, $on: Boolean!) { setPortRuleEnabled(id: $id, enabled: $on) { id } }`, { id: ruleId, on: enabled });
        if (r.errors) throw new Error(`write failed: ${JSON.stringify(r.errors)}`);
        await new Promise((res) => setTimeout(res, Math.max(0, 1000 - (Date.now() - started))));
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  };
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
  const env = {
    DATABASE_URL: db.url,
    VYOS_URL: sim.url,
    VYOS_API_KEY: 'sim-key',
    ADMIN_API_KEY: admin,
    RATE_LIMIT_READS_PER_MINUTE: '0',
    LAN_POOL: '192.168.64.1-192.168.65.254',
    NODE_ENV: 'production',
  };
  const server = await startServerProcess(env);
  const uncached = await startServerProcess({ ...env, READ_CACHE_MAX_BYTES: '0' });
  const bare = await startBareApollo();
  try {
    console.log(`read throughput: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per target, alternating`);
    console.log(`machine: ${await describeMachine(db.url)}`);

    // Seed through the API, in chunks the coordinator batches.
    const seeded: string[] = [];
    for (let start = 0; start < VMS; start += 50) {
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          server.gql(`mutation($n: String!) { provisionVm(input: { name: $n, portRules: [{ internalPort: 22 }, { internalPort: 80 }] }) { id portRules { id } } }`, { n: `read-${start + k}` }, admin),
        ),
      );
      const bad = replies.find((r) => r.errors);
      seeded.push(...replies.map((r) => (r.data as { provisionVm: { portRules: { id: string }[] } }).provisionVm.portRules[0].id));
      if (bad) throw new Error(`seeding failed: ${JSON.stringify(bad.errors)}`);
    }
    // A reader's own key (looked up per request like any key), not the admin one.
    const created = await server.gql(`mutation { createApiKey(name: "bench reader", role: VIEWER) { secret } }`, {}, admin);
    const viewer = (created.data as { createApiKey: { secret: string } }).createApiKey.secret;

    const label = VMS_QUERY === DEFAULT_QUERY ? 'vms(first: 50)' : VMS_QUERY;
    const body = JSON.stringify({ query: VMS_QUERY });
    const headers = { authorization: `Bearer ${viewer}` };
    const targets: Target[] = [
      { label: `vyos-vm-api ${label}`, url: server.url, body, headers, metricsUrl: `${server.url}/metrics` },
      {
        label: `  same, 1 write/s`,
        url: server.url,
        body,
        headers,
        metricsUrl: `${server.url}/metrics`,
        during: writer((q, v) => server.gql(q, v, admin), seeded[seeded.length - 1]),
      },
      { label: `  same, cache off`, url: uncached.url, body, headers, metricsUrl: `${uncached.url}/metrics` },
      { label: 'bare Apollo { hello }', url: bare.url, body: JSON.stringify({ query: CONSTANT_QUERY }), headers: {} },
    ];
    const expectVms = (d: any) => VMS_QUERY !== DEFAULT_QUERY || (d.vms.edges.length === 50 && d.vms.edges.every((e: any) => e.node.portRules.length === 2));
    await check(targets[0], expectVms);
    await check(targets[2], expectVms);
    await check(targets[3], (d) => d.hello === 'world');

    for (const t of targets) await load(t, 3); // warm-up: JIT, pools, caches
    const runs: Figures[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, t] of targets.entries()) {
        const f = await load(t, SECONDS);
        runs[i].push(f);
        console.log(`  round ${round + 1} ${t.label.trim()}: ${f.rps.toFixed(0)} req/s, p50 ${ms(f.p50)}, p99 ${ms(f.p99)}`);
      }
    }
    const avg = (fs: Figures[], k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
    const rps = runs.map((fs) => avg(fs, 'rps'));
    const yard = rps[rps.length - 1];
    console.log('');
    printTable(
      ['target', 'req/s', 'vs bare', 'from cache', 'p50', 'p99', 'non-2xx', 'errors'],
      targets.map((t, i) => [
        t.label,
        rps[i].toFixed(0),
        ratio(rps[i] / yard),
        Number.isFinite(avg(runs[i], 'hits')) ? `${(100 * avg(runs[i], 'hits')).toFixed(1)}%` : '-',
        ms(avg(runs[i], 'p50')),
        ms(avg(runs[i], 'p99')),
        avg(runs[i], 'non2xx'),
        avg(runs[i], 'errors'),
      ]),
    );
    const r = rps[0] / yard;
    console.log(`\nratio vyos-vm-api / bare Apollo: ${ratio(r)} (goal >= ${GOAL}: ${verdict(r >= GOAL)})`);
  } finally {
    bare.child.kill('SIGTERM');
    await server.stop();
    await uncached.stop();
    await sim.close();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
