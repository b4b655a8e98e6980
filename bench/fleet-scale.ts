// Benchmark (not a test): what one change and one read cost at three fleet sizes (issue 16's table).
// Per size: a fresh database and a fresh simulator (500 ms commits, in this process), both seeded
// directly with the same fleet (2 rules per VM), the server as its own process (reads sent with
// `cache-control: no-store`, so answers come from the database; rate limits off) and PostGraphile v5
// over the same database as a read-side reference.
// Prints figures and the goal ratios; asserts nothing about time.
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench:fleet` (BENCH_FLEET_SIZES=100,3000 for fewer;
// BENCH_FLEET_READS=only for the read figures alone).
import 'reflect-metadata';
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { intToIpv4, ipv4ToInt } from '../src/config.js';
import { migrateUp } from '../src/database/migrate-lock.js';
import { openOrm } from '../src/database/orm.js';
import { Protocol } from '../src/domain/entities/protocol.js';
import { expectedRouterRule } from '../src/domain/rule-mapping.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { VyosClient } from '../src/vyos/client.js';
import { NAT_DESTINATION_PATH, renderDelete, renderRule } from '../src/vyos/nat-rule.js';
import type { RouterCommand } from '../src/vyos/types.js';
import { freePort, startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { benchDatabase } from './database.js';
import { median, ms, printTable, ratio, verdict } from './figures.js';
import { describeMachine, postgresCpuMs, processCpuMs } from './machine.js';

const SIZES = (process.env.BENCH_FLEET_SIZES ?? '100,3000,30000').split(',').map(Number);
const COMMIT_LATENCY_MS = Number(process.env.BENCH_COMMIT_LATENCY_MS ?? 500);
const RULES_PER_VM = 2;
const LONE_ROUNDS = 5;
const CONCURRENT = 100;
const BURST = 200;
const SYNC_ROUNDS = Number(process.env.BENCH_SYNC_ROUNDS ?? 9);
/** the pause before each timed syncReport, bare read, bare commit and lone add ("with nothing else in flight") */
const SETTLE_MS = 500;
const READ_SECONDS = Number(process.env.BENCH_READ_SECONDS ?? 8);
const READ_ROUNDS = 2;
const CONNECTIONS = 10;
/** BENCH_FLEET_READS=only: the read figures alone (the page against PostGraphile), the rest n/a */
const READS_ONLY = process.env.BENCH_FLEET_READS === 'only';
const PAGE = 50;

// Wide pools, so that 30,000 rules (15,000 VMs) and what the benchmark adds fit.
const NAT_RULES = { first: 10_000, last: 99_999 };
const PORTS = { first: 20_000, last: 60_000 };
const LAN = { first: '10.64.0.1', last: '10.64.255.254' };
const WAN = 'eth0';
/** the bare commit's rule: outside NAT_RULE_RANGE and EXTERNAL_PORT_RANGE, so the server never sees it as its own */
const BARE_RULE = 500;

const ADD = `mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { ruleNumber } }`;
const PROVISION = `mutation($n: String!) { provisionVm(input: { name: $n, portRules: [{ internalPort: 22 }] }) { id } }`;
const SYNC = `{ syncReport { inSync items { kind ruleNumber } } }`;
const OUR_PAGE = `{ vms(first: ${PAGE}) { edges { node { id name internalIp portRules { ruleNumber externalPort } } } } }`;
// The same page from PostGraphile: it orders by indexed columns only, so the seed gives created_at
// the order of id, and both servers' first 50 VMs are the same ones (checked before the load).
const PG_PAGE = `{ allVms(first: ${PAGE}, orderBy: PRIMARY_KEY_ASC) { edges { node { id: rowId name internalIp portRules: portRulesByVmId(orderBy: RULE_NUMBER_ASC) { nodes { ruleNumber externalPort } } } } } }`;

interface SizeFigures {
  rules: number;
  load: number[];
  bareCommitMs: number;
  loneAddMs: number;
  /** the simulator's time answering the lone add's requests (reads, commit, confirm, save) */
  /** the router calls the lone add's answer waited for, as the server timed them (its metric) */
  loneRouterMs: number;
  /** the lone add minus those calls, per run (the medians of the runs) */
  loneOwnMs: number;
  /** the simulator's own busy time during the lone add (the router's side of the same calls) */
  loneSimMs: number;
  concurrentWallMs: number;
  concurrentCommits: number;
  concurrentFailed: number;
  provisionMsPerVm: number;
  provisionFailed: number;
  ourRps: number;
  pgRps: number | null;
  /** the server's (PostGraphile's) CPU ms per request of the page under load */
  ourCpuMs: number;
  pgCpuMs: number | null;
  /** PostgreSQL's CPU ms per request of the page, serving us (PostGraphile) */
  ourDbCpuMs: number;
  pgDbCpuMs: number | null;
  pgNote: string;
  bareReadMs: number;
  /** one `/config-file save` (the server saves after each change, VYOS_SAVE=on) */
  bareSaveMs: number;
  loadAfter: number[];
  syncMs: number;
  /** the first syncReport after the mutations: the database half is read again (its generation moved) */
  syncAfterChangeMs: number;
  inSyncAfter: boolean;
}

const seconds = (x: number) => `${(x / 1000).toFixed(1)} s`;
const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

/** The fleet both sides are seeded with: VM i has rules 2i and 2i+1, ports and addresses in order. */
function fleetPlan(rules: number) {
  const vms = Math.ceil(rules / RULES_PER_VM);
  const ip = (i: number) => intToIpv4(ipv4ToInt(LAN.first)! + i);
  const routerCommands: RouterCommand[] = [];
  for (let r = 0; r < rules; r++) {
    const i = Math.floor(r / RULES_PER_VM);
    const rule = expectedRouterRule(
      { ruleNumber: NAT_RULES.first + r, protocol: Protocol.TCP, externalPort: PORTS.first + r, internalPort: r % RULES_PER_VM === 0 ? 22 : 80, enabled: true },
      { name: `fleet-${i}`, internalIp: ip(i) },
      WAN,
    );
    routerCommands.push(...renderRule(rule, { syntax: '1.4' }));
  }
  return { vms, routerCommands };
}

/** The same fleet in SQL, in two statements; created_at follows id (see PG_PAGE). */
async function seedDatabase(url: string, rules: number, vms: number): Promise<void> {
  const orm = await openOrm({ url, poolMax: 2 });
  try {
    await migrateUp(orm, url, { lock: true });
  } finally {
    await orm.close();
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // A fresh install's router row is named at the server's first start (src/fleet/routers.ts);
    // named now, or that start renames it under 45,000 rows, and the dead row versions it leaves
    // slow every allocation probe until autovacuum comes by.
    await c.query(`update router set name = 'default' where name = ''`);
    await c.query(
      `insert into vm (id, name, internal_ip, created_at, updated_at)
       select id, 'fleet-' || i, host($2::inet + i), at, at
         from (select id, i, date_trunc('milliseconds', now()) - interval '1 day' + (row_number() over (order by id)) * interval '1 millisecond' as at
                 from (select gen_random_uuid() as id, i from generate_series(0, $1::int - 1) i) s) t`,
      [vms, LAN.first],
    );
    await c.query(
      `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, enabled, tcp_port, needs_repair, created_at, updated_at)
       select gen_random_uuid(), v.id, $2::int + r, 'TCP', $3::int + r, case when r % $4::int = 0 then 22 else 80 end, true, $3::int + r, false, v.created_at, v.created_at
         from generate_series(0, $1::int - 1) r join vm v on v.name = 'fleet-' || (r / $4::int)`,
      [rules, NAT_RULES.first, PORTS.first, RULES_PER_VM],
    );
    // As autovacuum would have by the time a fleet has grown this big.
    await c.query('analyze vm; analyze port_rule');
  } finally {
    await c.end();
  }
}

/** What the server has spent waiting for the router so far, in ms: its router_call_duration_seconds, saves left out. */
async function routerCallMs(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let seconds = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('vyos_vm_api_router_call_duration_seconds_sum{') && !line.includes('op="save"')) seconds += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return seconds * 1000;
}

async function sql<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

/**
 * This process's full collection, when node runs with --expose-gc (`npm run bench:fleet` does): the
 * simulator lives here, and a 30,000-rule read leaves ~50 MB behind; collected lazily, it made each
 * read slower than the last (230 ms rising to 420 ms over ten), the router's cost drifting under
 * whatever was timed later. Only this process: the server's collections stay in its figures.
 */
const collect = (globalThis as { gc?: () => void }).gc;

/**
 * Medians of `rounds` runs of each of `fns` (given the run's number, 0 for the warm-up), taken in
 * turns after one warm-up each, each run after a pause of `settleMs` (and a collection here): the
 * work a process does after answering (its garbage collection, on helper threads) then does not
 * land on the next run.
 */
async function timedInTurns(rounds: number, fns: ((i: number) => Promise<unknown>)[], settleMs = SETTLE_MS): Promise<number[]> {
  for (const fn of fns) await fn(0);
  const out = fns.map((): number[] => []);
  for (let i = 1; i <= rounds; i++) {
    for (const [k, fn] of fns.entries()) {
      if (settleMs > 0) {
        collect?.();
        await new Promise((r) => setTimeout(r, settleMs));
      }
      const t0 = performance.now();
      await fn(i);
      out[k].push(performance.now() - t0);
    }
  }
  return out.map(median);
}

/** The median of `rounds` timed runs of `fn` after one warm-up (no pause unless `settleMs`). */
async function timed(rounds: number, fn: (i: number) => Promise<unknown>, settleMs = 0): Promise<number> {
  const [m] = await timedInTurns(rounds, [fn], settleMs);
  return m;
}

function startPostGraphile(databaseUrl: string, port: number): Promise<{ url: string; child: ChildProcess }> {
  const cli = path.join(path.dirname(require.resolve('postgraphile')), 'cli-run.js');
  const child = spawn(process.execPath, [cli, '-P', 'postgraphile/presets/amber', '-c', databaseUrl, '-s', 'public', '-p', String(port), '-n', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', GRAPHILE_ENV: 'production' },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`PostGraphile exited with ${code}:\n${out}`)));
    const seen = (d: Buffer) => {
      out += String(d);
      if (/Server listening on port/.test(out)) resolve({ url: `http://127.0.0.1:${port}`, child });
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
  });
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const json = (await res.json()) as { data?: unknown; errors?: unknown };
  if (!res.ok || json.errors) throw new Error(`unexpected reply from ${url}: ${JSON.stringify(json).slice(0, 500)}`);
  return json.data;
}

interface Load {
  rps: number;
  cpuMs: number;
  /** PostgreSQL's CPU ms per request (every postgres process on this machine) */
  dbCpuMs: number;
}

/**
 * Requests per second under load and, with `pid`, that process's CPU ms per request over the run:
 * on two shared cores the rate moves with whatever else runs, the CPU a request costs much less.
 */
async function rps(url: string, body: string, headers: Record<string, string>, duration: number, pid?: number): Promise<Load> {
  const before = pid === undefined ? 0 : processCpuMs(pid);
  const dbBefore = postgresCpuMs();
  const r = await autocannon({ url: `${url}/graphql`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, connections: CONNECTIONS, duration });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx replies, ${r.errors} errors under load`);
  return { rps: r.requests.average, cpuMs: pid === undefined ? NaN : (processCpuMs(pid) - before) / r.requests.total, dbCpuMs: (postgresCpuMs() - dbBefore) / r.requests.total };
}

async function inSync(server: ServerProcess, admin: string): Promise<{ inSync: boolean; items: { kind: string; ruleNumber: number }[] }> {
  const res = await server.gql(SYNC, {}, admin);
  if (res.errors) throw new Error(`syncReport failed: ${JSON.stringify(res.errors)}`);
  return (res.data as { syncReport: { inSync: boolean; items: { kind: string; ruleNumber: number }[] } }).syncReport;
}

async function measureSize(rules: number): Promise<SizeFigures> {
  const load = loadavg();
  console.log(`\n== ${rules} port rules (${Math.ceil(rules / RULES_PER_VM)} VMs x ${RULES_PER_VM}); load average ${loads(load)} (1 / 5 / 15 min)`);
  const db = await benchDatabase();
  let sim: Simulator | null = null;
  let server: ServerProcess | null = null;
  let postgraphile: { url: string; child: ChildProcess } | null = null;
  try {
    const t0 = performance.now();
    const plan = fleetPlan(rules);
    await seedDatabase(db.url, rules, plan.vms);
    // The router boots with the fleet in its config, as a router that has been serving it would.
    sim = await startSimulator({ keys: ['sim-key'], version: 'rolling', commitLatencyMs: COMMIT_LATENCY_MS, initialCommands: plan.routerCommands });
    console.log(`  seeded database and simulator in ${ms(performance.now() - t0)}`);

    const admin = `admin-${randomBytes(12).toString('hex')}`;
    server = await startServerProcess({
      DATABASE_URL: db.url,
      VYOS_URL: sim.url,
      VYOS_API_KEY: 'sim-key',
      ADMIN_API_KEY: admin,
      NAT_RULE_RANGE: `${NAT_RULES.first}-${NAT_RULES.last}`,
      EXTERNAL_PORT_RANGE: `${PORTS.first}-${PORTS.last}`,
      LAN_POOL: `${LAN.first}-${LAN.last}`,
      NODE_ENV: 'production',
    }, {
      // e.g. BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to see where the server's time goes
      nodeArgs: process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean),
    });
    const srv = server;

    // A mismatch between the two seeds would make every figure below meaningless.
    const before = await inSync(srv, admin);
    if (!before.inSync) throw new Error(`seeded fleet not in sync: ${before.items.length} items, first ${JSON.stringify(before.items.slice(0, 3))}`);
    console.log('  syncReport.inSync after seeding: true');

    // 5. syncReport vs the one router read it is built on.
    const router = new VyosClient({ url: sim.url, key: 'sim-key' });
    // Taken in turns, so that whatever else the machine does meanwhile (autovacuum after the seed)
    // falls on both alike.
    const [bareReadMs, syncMs] = await timedInTurns(SYNC_ROUNDS, [() => router.showConfig([...NAT_DESTINATION_PATH]), () => inSync(srv, admin)]);
    console.log(`  syncReport ${ms(syncMs)}, bare read of nat destination ${ms(bareReadMs)}`);

    // 4 and 6. The same page from both servers, alternating, after a warm-up each.
    const created = await srv.gql(`mutation { createApiKey(name: "bench reader", role: VIEWER) { secret } }`, {}, admin);
    // Uncached: `cache-control: no-store` makes every answer come from the database and keeps none of
    // them (docs/read-cache.md), while the key check is served as in any deployment.
    const viewer = { authorization: `Bearer ${(created.data as { createApiKey: { secret: string } }).createApiKey.secret}`, 'cache-control': 'no-store' };
    const ourBody = JSON.stringify({ query: OUR_PAGE });
    const ours = await post(srv.url, ourBody, viewer);
    const ourIds = (ours.vms.edges as { node: { id: string; portRules: unknown[] } }[]).map((e) => e.node);
    if (ourIds.length !== PAGE || ourIds.some((n) => n.portRules.length !== RULES_PER_VM)) throw new Error(`unexpected page: ${JSON.stringify(ours).slice(0, 300)}`);
    let pgBody = '';
    let pgNote = '';
    try {
      postgraphile = await startPostGraphile(db.url, await freePort());
      pgBody = JSON.stringify({ query: PG_PAGE });
      const theirs = await post(postgraphile.url, pgBody);
      const same = JSON.stringify(ourIds.map((n) => n.id)) === JSON.stringify((theirs.allVms.edges as { node: { id: string } }[]).map((e) => e.node.id));
      if (!same) throw new Error('PostGraphile serves a different first page');
    } catch (e) {
      pgNote = (e as Error).message.split('\n')[0];
      console.log(`  PostGraphile: n/a (${pgNote})`);
      postgraphile?.child.kill('SIGTERM');
      postgraphile = null;
    }
    const pgTarget = postgraphile;
    await rps(srv.url, ourBody, viewer, 2);
    if (pgTarget) await rps(pgTarget.url, pgBody, {}, 2);
    const ourRuns: Load[] = [];
    const pgRuns: Load[] = [];
    for (let round = 0; round < READ_ROUNDS; round++) {
      ourRuns.push(await rps(srv.url, ourBody, viewer, READ_SECONDS, srv.child.pid));
      if (pgTarget) pgRuns.push(await rps(pgTarget.url, pgBody, {}, READ_SECONDS, pgTarget.child.pid));
    }
    const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    const ourRps = avg(ourRuns.map((x) => x.rps));
    const pgRps = pgTarget ? avg(pgRuns.map((x) => x.rps)) : null;
    const ourCpuMs = avg(ourRuns.map((x) => x.cpuMs));
    const pgCpuMs = pgTarget ? avg(pgRuns.map((x) => x.cpuMs)) : null;
    const ourDbCpuMs = avg(ourRuns.map((x) => x.dbCpuMs));
    const pgDbCpuMs = pgTarget ? avg(pgRuns.map((x) => x.dbCpuMs)) : null;
    const runs = (xs: Load[]) => xs.map((x) => `${x.rps.toFixed(0)} req/s (${x.cpuMs.toFixed(2)} ms CPU each, PostgreSQL ${x.dbCpuMs.toFixed(2)} ms)`).join(', ');
    console.log(`  vms(first: ${PAGE}) uncached: ${runs(ourRuns)}; PostGraphile: ${pgTarget ? runs(pgRuns) : 'n/a'}`);
    if (READS_ONLY) {
      const none = NaN;
      return { rules, load, loadAfter: loadavg(), bareSaveMs: none, bareCommitMs: none, loneAddMs: none, loneRouterMs: none, loneOwnMs: none, loneSimMs: none, concurrentWallMs: none, concurrentCommits: 0, concurrentFailed: 0, provisionMsPerVm: none, provisionFailed: 0, ourRps, pgRps, ourCpuMs, pgCpuMs, ourDbCpuMs, pgDbCpuMs, pgNote, bareReadMs, syncMs, syncAfterChangeMs: none, inSyncAfter: before.inSync };
    }

    // 1. The floor: a bare commit with commit-confirm plus the confirm, at this fleet size.
    const caps = await router.capabilities();
    const bareRule = (n: number) =>
      renderRule({ ruleNumber: BARE_RULE, description: `bench ${n}`, protocol: 'tcp', externalPort: '9500', internalPort: '22', translationAddress: '192.168.64.250', inboundInterface: WAN, disabled: false }, { syntax: caps.syntax });
    const bareCommitMs = await timed(LONE_ROUNDS, async (n) => {
      await router.configure(bareRule(n), { confirmMinutes: 1 });
      await router.confirm();
    }, SETTLE_MS);
    await router.configure([renderDelete(BARE_RULE)]);
    const bareSaveMs = await timed(LONE_ROUNDS, () => router.saveBootConfig());

    // 1. One addPortRule with nothing else in flight.
    const [target] = await sql<{ id: string }>(db.url, `select id from vm where name = 'fleet-0'`);
    let port = 1000;
    const add = async () => {
      const res = await srv.gql(ADD, { vm: target.id, p: port++ }, admin);
      if (res.errors) throw new Error(`addPortRule failed: ${JSON.stringify(res.errors)}`);
    };
    // The router's share of each lone add, as the server timed its calls (its metric
    // router_call_duration_seconds): the time it waited for the router, transport included, and
    // none of what happens in the simulator's process outside a request (its garbage collection
    // lands on the next request it answers). The save comes after the answer and is not counted;
    // it is let finish before the next run, so it never lands on one.
    const walls: number[] = [];
    const routerShares: number[] = [];
    const simShares: number[] = [];
    await timed(LONE_ROUNDS, async (i) => {
      const saves = sim!.saveCount;
      const [calls, busy] = [await routerCallMs(srv), sim!.busyMs];
      const t0 = performance.now();
      await add();
      const wall = performance.now() - t0;
      const simBusy = sim!.busyMs - busy;
      for (const until = Date.now() + 10_000; sim!.saveCount === saves && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
      if (i === 0) return;
      walls.push(wall);
      routerShares.push((await routerCallMs(srv)) - calls);
      simShares.push(simBusy);
    }, SETTLE_MS);
    const loneAddMs = median(walls);
    const loneRouterMs = median(routerShares);
    const loneOwnMs = median(walls.map((w, k) => w - routerShares[k]));
    const loneSimMs = median(simShares);
    console.log(`  lone addPortRule ${ms(loneAddMs)} (waiting for the router ${ms(loneRouterMs)}, own ${ms(loneOwnMs)}; the simulator busy ${ms(loneSimMs)}), bare commit + confirm ${ms(bareCommitMs)}, bare save ${ms(bareSaveMs)}`);

    // 2. 100 concurrent addPortRule.
    let commits = sim.commitCount;
    let t1 = performance.now();
    const adds = await Promise.all(Array.from({ length: CONCURRENT }, () => srv.gql(ADD, { vm: target.id, p: port++ }, admin)));
    const concurrentWallMs = performance.now() - t1;
    const concurrentCommits = sim.commitCount - commits;
    const concurrentFailed = adds.filter((r) => r.errors).length;
    console.log(`  ${CONCURRENT} concurrent addPortRule ${seconds(concurrentWallMs)}, ${concurrentCommits} router commits, ${concurrentFailed} failed`);

    // 3. A burst of 200 provisionVm (one rule each).
    commits = sim.commitCount;
    t1 = performance.now();
    const vms = await Promise.all(Array.from({ length: BURST }, (_, i) => srv.gql(PROVISION, { n: `burst-${i}` }, admin)));
    const provisionMsPerVm = (performance.now() - t1) / BURST;
    const provisionFailed = vms.filter((r) => r.errors).length;
    console.log(`  ${BURST} concurrent provisionVm: ${provisionMsPerVm.toFixed(0)} ms per VM, ${sim.commitCount - commits} router commits, ${provisionFailed} failed`);

    const t2 = performance.now();
    const after = await inSync(srv, admin);
    const syncAfterChangeMs = performance.now() - t2;
    if (!after.inSync) console.log(`  NOT in sync after the mutations: ${after.items.length} items, first ${JSON.stringify(after.items.slice(0, 3))}`);

    const loadAfter = loadavg();
    console.log(`  load average at the end: ${loads(loadAfter)}`);
    return { rules, load, loadAfter, bareSaveMs, bareCommitMs, loneAddMs, loneRouterMs, loneOwnMs, loneSimMs, concurrentWallMs, concurrentCommits, concurrentFailed, provisionMsPerVm, provisionFailed, ourRps, pgRps, ourCpuMs, pgCpuMs, ourDbCpuMs, pgDbCpuMs, pgNote, bareReadMs, syncMs, syncAfterChangeMs, inSyncAfter: after.inSync };
  } finally {
    postgraphile?.child.kill('SIGTERM');
    await server?.stop();
    await sim?.close();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const admin = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? '';
  console.log(`fleet scale: ${SIZES.join(', ')} port rules; simulator commit latency ${COMMIT_LATENCY_MS} ms (in this process${collect ? ', collected before each timed call' : '; run with --expose-gc to collect it before each timed call'}); server and PostGraphile as their own processes; PostgreSQL, a fresh database per size`);
  console.log(`machine: ${await describeMachine(admin)}`);
  const figures: SizeFigures[] = [];
  for (const size of SIZES) figures.push(await measureSize(size));

  // The server's own time: the lone add minus the router calls it waited for (its reads, the
  // commit and the confirm, which grow with the config), as the server timed them. The issue's
  // first formula (minus a bare commit + confirm) is printed too; it counts the reads as ours.
  const overhead = (f: SizeFigures) => f.loneOwnMs;
  const failed = (n: number) => (n ? ` (${n} FAILED)` : '');
  console.log('');
  printTable(
    ['figure', ...figures.map((f) => `${f.rules.toLocaleString('en-US')} rules`)],
    [
      ['load average at start (1 / 5 / 15 min)', ...figures.map((f) => loads(f.load))],
      ['load average at end', ...figures.map((f) => loads(f.loadAfter))],
      ['one `addPortRule`: the server\'s own time (beyond the router answering it)', ...figures.map((f) => ms(overhead(f)))],
      ['  (lone `addPortRule` minus a bare commit + confirm: its reads included)', ...figures.map((f) => ms(f.loneAddMs - f.bareCommitMs))],
      ['  (its router calls as the server timed them / as the simulator did: reads, commit, confirm)', ...figures.map((f) => `${ms(f.loneRouterMs)} / ${ms(f.loneSimMs)}`)],
      ['  (lone `addPortRule` / bare commit + confirm, medians of 5)', ...figures.map((f) => `${ms(f.loneAddMs)} / ${ms(f.bareCommitMs)}`)],
      ['  (bare router read of `nat destination` / bare save, medians of 5)', ...figures.map((f) => `${ms(f.bareReadMs)} / ${ms(f.bareSaveMs)}`)],
      [`${CONCURRENT} concurrent \`addPortRule\`, wall (router commits)`, ...figures.map((f) => `${seconds(f.concurrentWallMs)} (${f.concurrentCommits})${failed(f.concurrentFailed)}`)],
      [`provisioning, ms per VM in a burst of ${BURST}`, ...figures.map((f) => `${f.provisionMsPerVm.toFixed(0)}${failed(f.provisionFailed)}`)],
      [`uncached \`vms(first: ${PAGE})\` with rules, req/s`, ...figures.map((f) => f.ourRps.toFixed(0))],
      [`PostGraphile v5, the same page, req/s`, ...figures.map((f) => (f.pgRps === null ? 'n/a' : f.pgRps.toFixed(0)))],
      ['  ours / PostGraphile', ...figures.map((f) => (f.pgRps === null ? 'n/a' : ratio(f.ourRps / f.pgRps)))],
      ['  (server CPU per request, ours / PostGraphile)', ...figures.map((f) => (f.pgCpuMs === null ? 'n/a' : `${f.ourCpuMs.toFixed(2)} / ${f.pgCpuMs.toFixed(2)} ms`))],
      ['  (PostgreSQL CPU per request, serving ours / PostGraphile)', ...figures.map((f) => (f.pgDbCpuMs === null ? 'n/a' : `${f.ourDbCpuMs.toFixed(2)} / ${f.pgDbCpuMs.toFixed(2)} ms`))],
      ['`syncReport` vs one bare router read of `nat destination`', ...figures.map((f) => ratio(f.syncMs / f.bareReadMs))],
      [`  (\`syncReport\` / bare read, medians of ${SYNC_ROUNDS})`, ...figures.map((f) => `${ms(f.syncMs)} / ${ms(f.bareReadMs)}`)],
      ['  (the first `syncReport` after the mutations: the database read again)', ...figures.map((f) => ms(f.syncAfterChangeMs))],
      ['in sync after the mutations', ...figures.map((f) => (f.inSyncAfter ? 'yes' : 'NO'))],
    ],
  );

  const small = figures[0];
  const big = figures[figures.length - 1];
  if (figures.length < 2) return;
  const at = (f: SizeFigures) => f.rules.toLocaleString('en-US');
  const o = overhead(big) / overhead(small);
  const c = big.concurrentWallMs / small.concurrentWallMs;
  const r = big.ourRps / small.ourRps;
  const vsPg = big.pgRps === null ? NaN : big.ourRps / big.pgRps;
  const s = big.syncMs / big.bareReadMs;
  console.log('');
  printTable(
    ['goal (issue 16)', 'measured', 'verdict'],
    [
      [`mutation overhead at ${at(big)} <= 1.5x at ${at(small)}, and <= 60 ms`, `${ms(overhead(big))} / ${ms(overhead(small))} = ${ratio(o)}`, verdict(o <= 1.5 && overhead(big) <= 60)],
      [`${CONCURRENT} concurrent mutations at ${at(big)} <= 1.3x the wall time at ${at(small)}`, `${seconds(big.concurrentWallMs)} / ${seconds(small.concurrentWallMs)} = ${ratio(c)}`, verdict(c <= 1.3)],
      [`uncached vms(first: ${PAGE}) at ${at(big)} >= 0.9x its rate at ${at(small)}`, `${big.ourRps.toFixed(0)} / ${small.ourRps.toFixed(0)} = ${ratio(r)}`, verdict(r >= 0.9)],
      [`... and >= 1.0x PostGraphile at ${at(big)}`, big.pgRps === null ? `n/a (${big.pgNote})` : `${big.ourRps.toFixed(0)} / ${big.pgRps.toFixed(0)} = ${ratio(vsPg)}`, big.pgRps === null ? 'n/a' : verdict(vsPg >= 1.0)],
      [`syncReport at ${at(big)} <= 1.2x one bare router read`, `${ms(big.syncMs)} / ${ms(big.bareReadMs)} = ${ratio(s)}`, verdict(s <= 1.2)],
    ],
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
