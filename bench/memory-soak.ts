// Benchmark (not a test): the server process's resident memory over a long mixed load: reads,
// provision/update/remove cycles, and a rollback every so often (the simulator fails a confirm).
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench:soak` (BENCH_SOAK_SECONDS, default 600).
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../src/simulator/simulator.js';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { benchDatabase } from './database.js';
import { median, mib, printTable, sleep, verdict } from './figures.js';
import { describeMachine } from './machine.js';
import { residentBytes } from './rss.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const SAMPLE_MS = 10_000;
/** RSS growth is measured from the first sample after this much load (start-up and JIT warm-up) */
const WARMUP_SECONDS = Math.min(60, Math.max(10, Math.round(SECONDS / 10)));
const COMMIT_LATENCY_MS = Number(process.env.BENCH_SOAK_COMMIT_MS ?? 100);
const FAULT_EVERY_MS = 15_000;
const WRITERS = 4;
const READERS = 2;
/** pause between one reader's requests: a steady load, not a saturating one (the soak looks for leaks) */
const READ_PAUSE_MS = 20;
const GOAL_GROWTH = 0.1;

const PROVISION = `mutation($n: String!) { provisionVm(input: { name: $n, portRules: [{ internalPort: 22 }, { internalPort: 80, protocol: UDP }] }) { id portRules { id } } }`;
const UPDATE = `mutation($id: ID!, $p: Port!) { updatePortRule(id: $id, input: { internalPort: $p, description: "soak" }) { id } }`;
const ADD = `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 443 }) { id } }`;
const DISABLE = `mutation($id: ID!) { setPortRuleEnabled(id: $id, enabled: false) { id } }`;
const REMOVE = `mutation($id: ID!) { removePortRule(id: $id) }`;
const DECOMMISSION = `mutation($id: ID!) { decommissionVm(id: $id) }`;
const READS = [
  `{ vms(first: 50) { totalCount edges { node { id name internalIp portRules { ruleNumber externalPort enabled } } } } }`,
  `{ rollbackEvents(first: 10) { totalCount edges { node { operation stage outcome } } } }`,
  `{ health { status } }`,
];

interface Sample {
  t: number;
  rss: number;
  heapUsed: number | null;
  ops: number;
}

async function heapUsed(server: ServerProcess): Promise<number | null> {
  const text = await fetch(`${server.url}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const sim = await startSimulator({ keys: ['sim-key'], version: 'rolling', commitLatencyMs: COMMIT_LATENCY_MS });
  const key = `admin-${randomBytes(12).toString('hex')}`;
  const server = await startServerProcess({ DATABASE_URL: db.url, VYOS_URL: sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: key });
  const pid = server.child.pid!;
  const codes = new Map<string, number>();
  let ops = 0;
  let stop = false;

  async function call(query: string, vars: Record<string, unknown> = {}): Promise<any> {
    type Reply = Awaited<ReturnType<ServerProcess['gql']>>;
    const res: Reply = await server.gql(query, vars, key).catch((e: unknown): Reply => ({ errors: [{ message: String(e), extensions: { code: 'HTTP' } }] }));
    ops++;
    const code = res.errors?.[0]?.extensions?.code ?? (res.errors ? 'UNKNOWN' : 'OK');
    codes.set(code, (codes.get(code) ?? 0) + 1);
    return res.errors ? null : res.data;
  }

  async function writer(w: number): Promise<void> {
    for (let i = 0; !stop; i++) {
      const vm = (await call(PROVISION, { n: `soak-${w}-${i}` }))?.provisionVm;
      if (!vm) continue;
      const [a, b] = vm.portRules.map((r: { id: string }) => r.id);
      await call(UPDATE, { id: a, p: 2200 + (i % 100) });
      await call(ADD, { vm: vm.id });
      await call(DISABLE, { id: b });
      await call(REMOVE, { id: a });
      // A decommission hit by a rollback is retried, so VMs do not pile up in the database.
      for (let k = 0; k < 5 && !(await call(DECOMMISSION, { id: vm.id })); k++);
    }
  }

  async function reader(r: number): Promise<void> {
    for (let i = r; !stop; i++) {
      await call(READS[i % READS.length]);
      await sleep(READ_PAUSE_MS);
    }
  }

  async function faults(): Promise<number> {
    let armed = 0;
    while (!stop) {
      await sleep(FAULT_EVERY_MS);
      if (stop) break;
      sim.faults.failNextConfirm('simulated confirm failure (soak)');
      armed++;
    }
    return armed;
  }

  try {
    console.log(`memory soak: ${SECONDS} s of mixed load on one server process (pid ${pid})`);
    console.log(`machine: ${await describeMachine(db.url)}`);
    console.log(`load: ${WRITERS} writers (provision, update, add, disable, remove, decommission), ${READERS} readers (${READ_PAUSE_MS} ms pause), a failed confirm (rollback) every ${FAULT_EVERY_MS / 1000} s, commit latency ${COMMIT_LATENCY_MS} ms`);
    await sleep(2000);
    const idle = residentBytes(pid);
    console.log(`idle RSS after start: ${mib(idle)}`);

    const started = performance.now();
    const workers = [...Array.from({ length: WRITERS }, (_, w) => writer(w)), ...Array.from({ length: READERS }, (_, r) => reader(r))];
    const faulting = faults();
    const samples: Sample[] = [];
    while (performance.now() - started < SECONDS * 1000) {
      await sleep(Math.min(SAMPLE_MS, SECONDS * 1000 - (performance.now() - started)));
      const s = { t: (performance.now() - started) / 1000, rss: residentBytes(pid), heapUsed: await heapUsed(server), ops };
      samples.push(s);
      console.log(`  t=${s.t.toFixed(0).padStart(4)} s  RSS ${mib(s.rss).padStart(10)}  heap used ${s.heapUsed === null ? '-' : mib(s.heapUsed)}  requests ${s.ops}`);
    }
    stop = true;
    await Promise.all(workers);
    const armed = await faulting;
    const rollbacks = (await call(`{ rollbackEvents(first: 1) { totalCount } }`))?.rollbackEvents.totalCount ?? '?';
    const sync = (await call(`{ syncReport { inSync items { kind } } }`))?.syncReport;
    await sleep(SAMPLE_MS);
    const afterIdle = residentBytes(pid);

    // One sample catches the heap wherever the GC happens to be, so compare windows of samples:
    // the median (typical) and the minimum (the floor after a collection, where a leak shows).
    const windowSize = Math.max(1, Math.min(6, Math.floor(samples.length / 3)));
    const warmFrom = samples.findIndex((x) => x.t >= WARMUP_SECONDS);
    const first = samples.slice(Math.max(0, warmFrom), Math.max(0, warmFrom) + windowSize);
    const last = samples.slice(-windowSize);
    const rss = (xs: Sample[]) => xs.map((x) => x.rss);
    const heaps = (xs: Sample[]) => xs.map((x) => x.heapUsed).filter((h): h is number => h !== null);
    const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
    const span = (xs: Sample[]) => `${xs[0].t.toFixed(0)}-${xs[xs.length - 1].t.toFixed(0)} s`;
    const growth = (median(rss(last)) - median(rss(first))) / median(rss(first));

    console.log(`\nrequests: ${ops} in ${SECONDS} s; outcomes ${JSON.stringify(Object.fromEntries(codes))}`);
    console.log(`rollbacks: ${armed} confirm failures armed, ${rollbacks} rollback events recorded; router and database in sync at the end: ${sync?.inSync ?? 'unknown'}`);
    console.log(`idle RSS before the load ${mib(idle)}; 10 s after the load ${mib(afterIdle)}; peak sample ${mib(Math.max(...rss(samples)))}`);
    printTable(
      ['window', 'RSS median', 'RSS min', 'heap used median', 'heap used min'],
      [first, last].map((w, i) => [
        `${i === 0 ? 'baseline' : 'end'} (${span(w)})`,
        mib(median(rss(w))),
        mib(Math.min(...rss(w))),
        heaps(w).length ? mib(median(heaps(w))) : '-',
        heaps(w).length ? mib(Math.min(...heaps(w))) : '-',
      ]).concat([[
        'growth',
        pct(median(rss(first)), median(rss(last))),
        pct(Math.min(...rss(first)), Math.min(...rss(last))),
        heaps(first).length ? pct(median(heaps(first)), median(heaps(last))) : '-',
        heaps(first).length ? pct(Math.min(...heaps(first)), Math.min(...heaps(last))) : '-',
      ]]),
    );
    console.log(`\nRSS growth (median of the end window over the baseline window): ${(growth * 100).toFixed(1)}%, goal <= ${GOAL_GROWTH * 100}%: ${verdict(growth <= GOAL_GROWTH)}`);
  } finally {
    stop = true;
    await server.stop();
    await sim.close();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
