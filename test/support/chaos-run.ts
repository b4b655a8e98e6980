// A bounded, seeded chaos run of the two-system transaction, black-box: one simulator in this
// process, a fresh PostgreSQL database, two server replicas as OS processes. A random burst of
// mutations goes to both replicas while router faults are armed and one replica is SIGKILLed and
// restarted; afterwards the API's rules must equal the router's, syncReport must be in sync and
// every journal row finished. No reconcile: the transaction itself must keep both sides equal.
// Used by bench/chaos.ts (several seeds) and test/integration/chaos.test.ts (one short run).
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { PortRuleFacts } from '../../src/domain/rule-mapping.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { parseNatDestination } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { ruleDifferences, type KnownRule, type RuleDifference } from './in-sync.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { prng } from './prng.js';

export type CommitPath = 'rolling' | '1.4';

export interface ChaosOptions {
  seed: number;
  /** simulator version: 'rolling' = commit-confirm, '1.4' = plain commits with inverse-command undo */
  path: CommitPath;
  /** length of the burst */
  seconds: number;
  /** concurrent clients (default 6) */
  workers?: number;
  /** mutations at most (default 600) */
  maxMutations?: number;
  /** one confirm_time minute on the simulator (default 3000 ms) */
  minuteMs?: number;
  /** where the replicas' JSON logs and the run's own timeline (`<seed>-<path>-client.jsonl`) go (default /tmp/chaos-logs) */
  logDir?: string;
  /** progress lines */
  progress?: (line: string) => void;
  /** more server settings, e.g. VYOS_FIREWALL=manage or VYOS_HAIRPIN=on with its variables (their owned rules are checked at the end) */
  serverEnv?: Record<string, string>;
}

export interface ChaosResult {
  seed: number;
  path: CommitPath;
  seconds: number;
  mutations: { sent: number; ok: number; failed: Record<string, number>; byKind: Record<string, string> };
  rollbackEvents: Record<string, number>;
  faults: Record<string, number>;
  kills: number;
  routerCommits: number;
  routerReverts: number;
  operations: Record<string, number>;
  rulesAtEnd: { api: number; router: number };
  settled: boolean;
  differences: string[];
  pass: boolean;
  logFiles: string[];
}

const RANGE = { first: 10000, last: 19999 };
const WAN = 'eth0';
const TAMPER_PORT = '9'; // never sent by the run itself (internal ports are 1024+), so visible as ours
const REQUEST_TIMEOUT_MS = 60_000;


type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
function weighted<T extends string>(r: Rand, table: Record<T, number>): T {
  const entries = Object.entries(table) as [T, number][];
  let x = r() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of entries) if ((x -= w) < 0) return k;
  return entries[entries.length - 1][0];
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bump = (m: Record<string, number>, k: string, n = 1) => void (m[k] = (m[k] ?? 0) + n);

interface GqlReply {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** POST /graphql; a transport failure (refused, reset, timeout) comes back as a CONNECTION error. */
async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}): Promise<GqlReply> {
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      // no-cache: every read asks PostgreSQL, never a replica's read cache
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'cache-control': 'no-cache' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    try {
      return JSON.parse(text) as GqlReply;
    } catch {
      return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 200)}`, extensions: { code: `HTTP_${res.status}` } }] };
    }
  } catch (e) {
    return { errors: [{ message: String((e as Error).cause ?? e), extensions: { code: 'CONNECTION' } }] };
  }
}
const codeOf = (r: GqlReply) => (r.errors?.length ? (r.errors[0].extensions?.code ?? 'UNKNOWN') : null);

const RULE_FIELDS = 'id ruleNumber protocol externalPort internalPort portCount sourceAddress description enabled';
const Q = {
  provision: `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id name portRules { ${RULE_FIELDS} } } }`,
  add: `mutation($vm: ID!, $input: PortRuleInput!) { addPortRule(vmId: $vm, input: $input) { ${RULE_FIELDS} } }`,
  update: `mutation($id: ID!, $input: UpdatePortRuleInput!) { updatePortRule(id: $id, input: $input) { ${RULE_FIELDS} } }`,
  enable: `mutation($id: ID!, $on: Boolean!) { setPortRuleEnabled(id: $id, enabled: $on) { ${RULE_FIELDS} } }`,
  remove: `mutation($id: ID!) { removePortRule(id: $id) }`,
  decommission: `mutation($id: ID!) { decommissionVm(id: $id) }`,
  vms: `query($after: String) { vms(first: 200, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id name internalIp portRules { ${RULE_FIELDS} } } } } }`,
  events: `query($after: String) { rollbackEvents(first: 200, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id at operation stage outcome reason commands { op path } } } } }`,
  sync: `{ syncReport { inSync items { kind ruleNumber fields { field expected actual } } firewall { managed { ruleNumber state } } hairpin { ruleNumber state } } }`,
};

interface ApiRule {
  id: string;
  ruleNumber: number;
  protocol: PortRuleFacts['protocol'];
  externalPort: number;
  internalPort: number;
  portCount: number;
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
}
interface ApiVm {
  id: string;
  name: string;
  internalIp: string;
  portRules: ApiRule[];
}
interface ApiEvent {
  id: string;
  at: string;
  operation: string;
  stage: string;
  outcome: string;
  reason: string;
  commands: { op: string; path: string[] }[];
}

/** Every page of a connection. */
async function allPages<T>(url: string, key: string, query: string, field: string): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page++) {
    const r = await gql(url, key, query, { after });
    if (!r.data) throw new Error(`${field}: ${JSON.stringify(r.errors)}`);
    const conn = r.data[field] as { pageInfo: { hasNextPage: boolean; endCursor: string }; edges: { node: T }[] };
    out.push(...conn.edges.map((e) => e.node));
    if (!conn.pageInfo.hasNextPage) return out;
    after = conn.pageInfo.endCursor;
  }
  throw new Error(`${field}: more than 100 pages`);
}

function randomRuleInput(r: Rand, n: number): Record<string, unknown> {
  const input: Record<string, unknown> = { internalPort: int(r, 1024, 65535) };
  // a range keeps its port numbers: no internal port (docs/operations.md "Port ranges")
  if (r() < 0.15) {
    input.portCount = int(r, 2, 16);
    delete input.internalPort;
  }
  input.protocol = weighted(r, { TCP: 5, UDP: 3, TCP_UDP: 2 });
  if (r() < 0.15) input.externalPort = int(r, 32000, 33000); // may be taken: CONFLICT
  if (r() < 0.3) input.sourceAddress = pick(r, ['203.0.113.0/24', '198.51.100.7', '192.0.2.0/28']);
  if (r() < 0.4) input.description = `chaos rule ${n}`;
  if (r() < 0.2) input.enabled = false;
  return input;
}

function randomUpdate(r: Rand, n: number): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  while (Object.keys(input).length === 0) {
    if (r() < 0.5) input.internalPort = int(r, 1024, 65535);
    if (r() < 0.2) input.protocol = weighted(r, { TCP: 5, UDP: 3, TCP_UDP: 2 });
    if (r() < 0.1) input.externalPort = int(r, 32000, 33000);
    if (r() < 0.08) input.portCount = int(r, 1, 8); // a single port with its own internal port cannot grow: BAD_USER_INPUT
    if (r() < 0.25) input.sourceAddress = pick(r, ['203.0.113.0/24', '198.51.100.9', '192.0.2.16/28']);
    if (r() < 0.3) input.description = `chaos update ${n}`;
    if (r() < 0.15) input.enabled = r() < 0.5;
  }
  return input;
}

/** What the clients believe exists (from replies and periodic re-reads): targets for the next mutation. */
class Model {
  vms = new Map<string, Set<string>>();
  rules = new Map<string, { vmId: string; ruleNumber: number }>();
  addRule(vmId: string, rule: { id: string; ruleNumber: number }) {
    this.vms.get(vmId)?.add(rule.id);
    this.rules.set(rule.id, { vmId, ruleNumber: rule.ruleNumber });
  }
  dropRule(id: string) {
    const r = this.rules.get(id);
    if (r) this.vms.get(r.vmId)?.delete(id);
    this.rules.delete(id);
  }
  dropVm(id: string) {
    for (const rid of this.vms.get(id) ?? []) this.rules.delete(rid);
    this.vms.delete(id);
  }
  replace(vms: ApiVm[]) {
    this.vms.clear();
    this.rules.clear();
    for (const vm of vms) {
      this.vms.set(vm.id, new Set());
      for (const rule of vm.portRules) this.addRule(vm.id, rule);
    }
  }
}

/** Workers wait here while the run needs the router quiet (to aim a tamper at one known batch). */
class Gate {
  private open = Promise.resolve();
  private release: (() => void) | null = null;
  close() {
    if (!this.release) this.open = new Promise((r) => (this.release = r));
  }
  reopen() {
    this.release?.();
    this.release = null;
  }
  pass(): Promise<void> {
    return this.open;
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const t0 = performance.now();
  const say = opts.progress ?? (() => {});
  const minuteMs = opts.minuteMs ?? 3000;
  const workers = opts.workers ?? 6;
  const maxMutations = opts.maxMutations ?? 600;
  const logDir = opts.logDir ?? '/tmp/chaos-logs';
  mkdirSync(logDir, { recursive: true });
  // independent streams: the fault schedule does not shift when a worker makes one more choice
  const base = (opts.seed * 2654435761) ^ (opts.path === 'rolling' ? 0x5eed : 0xf00d);
  const rFault = prng(base + 1);
  const rKill = prng(base + 2);
  const rSetup = prng(base + 3);

  const result: ChaosResult = {
    seed: opts.seed,
    path: opts.path,
    seconds: 0,
    mutations: { sent: 0, ok: 0, failed: {}, byKind: {} },
    rollbackEvents: {},
    faults: {},
    kills: 0,
    routerCommits: 0,
    routerReverts: 0,
    operations: {},
    rulesAtEnd: { api: 0, router: 0 },
    settled: false,
    differences: [],
    pass: false,
    logFiles: [],
  };
  const perKind: Record<string, { sent: number; ok: number }> = {};

  const baseLatency = int(rSetup, 100, 400);
  let sim: Simulator | null = null;
  let db: TestDatabase | null = null;
  const replicas: (ServerProcess | null)[] = [null, null];
  const generations = [0, 0];
  const adminKey = `chaos-${randomBytes(12).toString('hex')}`;
  const tag = `seed${opts.seed}-${opts.path}`;
  // The run's own timeline: every request with its reply, every fault, the kill. JSON lines.
  const timeline: { t: number; what: string; [k: string]: unknown }[] = [];
  let journal: WriteStream | null = null;
  const note = (what: string, fields: Record<string, unknown> = {}) => {
    const entry = { t: Math.round(performance.now() - t0), what, ...fields };
    timeline.push(entry);
    journal?.write(`${JSON.stringify(entry)}\n`);
  };

  try {
    const journalFile = path.join(logDir, `${tag}-client.jsonl`);
    journal = createWriteStream(journalFile);
    result.logFiles.push(journalFile);
    sim = await startSimulator({ version: opts.path, minuteMs, commitLatencyMs: baseLatency, keys: ['sim-key'] });
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      VYOS_URL: sim.url,
      VYOS_API_KEY: 'sim-key',
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'info',
      SYNC_INTERVAL_SECONDS: '0',
      RATE_LIMIT_WRITES_PER_MINUTE: '0',
      RATE_LIMIT_READS_PER_MINUTE: '0',
      VYOS_TIMEOUT_MS: '3000',
      VYOS_COMMIT_TIMEOUT_MS: '5000',
      // A lost write is watched for a late commit in proportion to the short write timeout (default 1200 s).
      VYOS_LATE_WRITE_WATCH_SECONDS: '15',
      VYOS_CONFIRM_MINUTES: '1',
      NAT_RULE_RANGE: `${RANGE.first}-${RANGE.last}`,
      VYOS_WAN_INTERFACE: WAN,
      ...opts.serverEnv,
    };
    const start = async (i: number) => {
      const logFile = path.join(logDir, `${tag}-replica${i}-gen${generations[i]}.log`);
      result.logFiles.push(logFile);
      generations[i]++;
      replicas[i] = await startServerProcess(env, { logFile });
    };
    // one after the other: the first migrates and seeds the admin key
    await start(0);
    await start(1);
    say(`${tag}: simulator ${opts.path} (commit latency ${baseLatency} ms, minute ${minuteMs} ms), replicas up; burst of ${opts.seconds} s`);

    const model = new Model();
    const gate = new Gate();
    let inFlight = 0;
    const deadline = performance.now() + opts.seconds * 1000;
    const running = () => performance.now() < deadline && result.mutations.sent < maxMutations;
    const alive = () => replicas.filter((r): r is ServerProcess => r !== null);
    /** acknowledged writes and every attempt to delete, for the lost-acknowledgement check */
    const acked = { vms: new Set<string>(), rules: new Map<string, string>() };
    const deleteAttempted = new Set<string>();
    let counter = 0;

    const send = async (r: Rand, kind: string, query: string, variables: Record<string, unknown>): Promise<GqlReply> => {
      const targets = alive();
      const target = targets.length ? pick(r, targets) : replicas[0];
      const replica = replicas.indexOf(target);
      result.mutations.sent++;
      (perKind[kind] ??= { sent: 0, ok: 0 }).sent++;
      inFlight++;
      const sentAt = performance.now();
      const reply = target ? await gql(target.url, adminKey, query, variables) : { errors: [{ message: 'no replica', extensions: { code: 'CONNECTION' } }] };
      inFlight--;
      const code = codeOf(reply);
      note('request', {
        kind,
        replica: `${replica}.${generations[replica] - 1}`,
        ms: Math.round(performance.now() - sentAt),
        variables,
        ...(code ? { code, message: reply.errors![0].message.slice(0, 300) } : { data: reply.data }),
      });
      if (code) bump(result.mutations.failed, code);
      else {
        result.mutations.ok++;
        perKind[kind].ok++;
      }
      return reply;
    };

    const mutate = async (r: Rand) => {
      const n = ++counter;
      const vmIds = [...model.vms.keys()];
      const ruleIds = [...model.rules.keys()];
      const kind = weighted(r, {
        provisionVm: vmIds.length < 3 ? 10 : vmIds.length > 25 ? 0 : 2,
        addPortRule: vmIds.length ? 3 : 0,
        updatePortRule: ruleIds.length ? 3 : 0,
        setPortRuleEnabled: ruleIds.length ? 2 : 0,
        removePortRule: ruleIds.length ? 1.5 : 0,
        decommissionVm: vmIds.length > 3 ? 0.7 : 0,
      });
      if (kind === 'provisionVm') {
        const rules = Array.from({ length: int(r, 0, 3) }, () => randomRuleInput(r, n));
        const reply = await send(r, kind, Q.provision, { input: { name: `c${opts.seed}-${n}`, portRules: rules } });
        const vm = reply.data?.provisionVm as ApiVm | undefined;
        if (vm) {
          model.vms.set(vm.id, new Set());
          acked.vms.add(vm.id);
          for (const rule of vm.portRules) {
            model.addRule(vm.id, rule);
            acked.rules.set(rule.id, vm.id);
          }
        }
      } else if (kind === 'addPortRule') {
        const vmId = pick(r, vmIds);
        const reply = await send(r, kind, Q.add, { vm: vmId, input: randomRuleInput(r, n) });
        const rule = reply.data?.addPortRule as ApiRule | undefined;
        if (rule) {
          model.addRule(vmId, rule);
          acked.rules.set(rule.id, vmId);
        } else if (codeOf(reply) === 'NOT_FOUND') model.dropVm(vmId);
      } else if (kind === 'decommissionVm') {
        const vmId = pick(r, vmIds);
        deleteAttempted.add(vmId);
        const reply = await send(r, kind, Q.decommission, { id: vmId });
        if (reply.data || codeOf(reply) === 'NOT_FOUND') model.dropVm(vmId);
      } else {
        const id = pick(r, ruleIds);
        if (kind === 'removePortRule') deleteAttempted.add(id);
        const reply =
          kind === 'updatePortRule'
            ? await send(r, kind, Q.update, { id, input: randomUpdate(r, n) })
            : kind === 'setPortRuleEnabled'
              ? await send(r, kind, Q.enable, { id, on: r() < 0.5 })
              : await send(r, kind, Q.remove, { id });
        if (codeOf(reply) === 'NOT_FOUND' || (kind === 'removePortRule' && reply.data)) model.dropRule(id);
      }
    };

    const worker = async (w: number) => {
      const r = prng(base + 100 + w);
      while (running()) {
        await gate.pass();
        if (!running()) break;
        await mutate(r);
        await sleep(int(r, 0, 150));
      }
    };

    /** Re-reads what exists now and then, so targets follow ambiguous outcomes too. */
    const refresher = async () => {
      while (running()) {
        await sleep(4000);
        const target = alive()[0];
        if (!target || !running()) continue;
        try {
          model.replace(await allPages<ApiVm>(target.url, adminKey, Q.vms, 'vms'));
        } catch {
          /* a replica that is being killed: next time */
        }
      }
    };

    /** Aims a tamper at one known batch: quiet the clients, arm it, send one update of that rule. */
    const tamper = async () => {
      const target = alive();
      if (target.length < 2 || model.rules.size === 0) return false;
      gate.close();
      try {
        for (let i = 0; inFlight > 0 && i < 200; i++) await sleep(50);
        if (inFlight > 0) return false;
        const [id, rule] = pick(rFault, [...model.rules]);
        sim!.faults.clear(); // nothing else may take the tamper
        sim!.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'translation', 'port', TAMPER_PORT] }]);
        const reply = await send(rFault, 'updatePortRule', Q.update, { id, input: { internalPort: int(rFault, 1024, 65535) } });
        if (codeOf(reply) === 'NOT_FOUND') model.dropRule(id);
        sim!.faults.clear(); // not consumed (no commit happened): disarm, it must not hit another batch
        return true;
      } finally {
        gate.reopen();
      }
    };

    const armer = async () => {
      while (running()) {
        await sleep(int(rFault, 300, 1500));
        if (!running()) break;
        const kind = weighted(rFault, {
          rejectNextCommit: 3,
          rejectNextCommitSkip1: 1.5,
          failNextConfirm: opts.path === 'rolling' ? 2.5 : 0,
          loseNextReply: 2.5,
          answer500: 2,
          slow: 1.5,
          latencySpike: 1,
          unreachable: 1,
          tamper: 1,
        });
        switch (kind) {
          case 'rejectNextCommit':
            sim!.faults.rejectNextCommit();
            break;
          case 'rejectNextCommitSkip1':
            sim!.faults.rejectNextCommit('Simulated commit failure (the commit after next)', { skip: 1 });
            break;
          case 'failNextConfirm':
            sim!.faults.failNextConfirm();
            break;
          case 'loseNextReply':
            sim!.faults.loseNextReply();
            break;
          case 'answer500':
            sim!.faults.answer500(int(rFault, 1, 2), { skip: int(rFault, 0, 4) });
            break;
          case 'slow':
            sim!.faults.slow(int(rFault, 300, 2500), int(rFault, 1, 3));
            break;
          case 'latencySpike': {
            sim!.setCommitLatency(int(rFault, 1500, 4000));
            await sleep(int(rFault, 1000, 4000));
            sim!.setCommitLatency(baseLatency);
            break;
          }
          case 'unreachable': {
            await sim!.faults.setUnreachable(true);
            await sleep(int(rFault, 300, 2000));
            await sim!.faults.setUnreachable(false);
            break;
          }
          case 'tamper':
            if (!(await tamper())) continue;
            break;
        }
        bump(result.faults, kind);
        note('fault', { kind });
      }
    };

    const killer = async () => {
      const at = opts.seconds * 1000 * (0.25 + 0.4 * rKill());
      const victim = int(rKill, 0, 1);
      const down = int(rKill, 500, 3000);
      await sleep(at);
      const p = replicas[victim];
      if (!p) return;
      replicas[victim] = null;
      say(`${tag}: SIGKILL replica ${victim} at ${(at / 1000).toFixed(1)} s (${inFlight} requests in flight), restart in ${down} ms`);
      note('kill', { replica: victim, inFlight });
      await p.stop('SIGKILL');
      result.kills++;
      await sleep(down);
      await start(victim);
      note('restarted', { replica: victim });
      say(`${tag}: replica ${victim} restarted`);
    };

    await Promise.all([...Array.from({ length: workers }, (_, w) => worker(w)), armer(), refresher(), killer()]);
    const burstEnd = performance.now();
    note('burst over');
    say(`${tag}: burst over (${result.mutations.sent} mutations); settling`);

    // Settle: faults off, the router reachable, every commit-confirm window over, every journal row
    // finished, and nothing changing on the router between two polls. Bounded.
    sim.faults.clear();
    await sim.faults.setUnreachable(false);
    sim.setCommitLatency(baseLatency);
    const pool = new pg.Client({ connectionString: db.url });
    await pool.connect();
    try {
      const states = async () => (await pool.query<{ state: string; n: string }>('select state, count(*) n from operation group by state')).rows;
      let last = '';
      for (const until = performance.now() + 70_000; performance.now() < until; ) {
        await sleep(500);
        const open = (await states()).filter((s) => !['DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED'].includes(s.state));
        const snapshot = sim.commands().join('\n') + JSON.stringify(await states());
        const quiet = snapshot === last;
        last = snapshot;
        if (performance.now() - burstEnd > minuteMs + 1500 && !sim.confirmPending() && open.length === 0 && quiet) {
          result.settled = true;
          break;
        }
      }
      if (!result.settled) result.differences.push('did not settle within 70 s (journal rows open, a confirm pending, or the router still changing)');
      for (const s of await states()) result.operations[s.state] = Number(s.n);
      const unfinished = await pool.query<{ id: string; operation: string; state: string; error: string | null }>(
        `select id, operation, state, error from operation where state not in ('DONE', 'ROLLED_BACK') order by created_at`,
      );
      for (const o of unfinished.rows) result.differences.push(`journal row ${o.id} (${o.operation}) is ${o.state}${o.error ? `: ${o.error}` : ''}`);
    } finally {
      await pool.end();
    }

    // The checks, through the public surfaces only.
    const [a, b] = replicas as ServerProcess[];
    const vms = await allPages<ApiVm>(a.url, adminKey, Q.vms, 'vms');
    const vmsB = await allPages<ApiVm>(b.url, adminKey, Q.vms, 'vms');
    const canonical = (list: ApiVm[]) => JSON.stringify([...list].sort((x, y) => x.id.localeCompare(y.id)).map((v) => ({ ...v, portRules: [...v.portRules].sort((x, y) => x.id.localeCompare(y.id)) })));
    if (canonical(vms) !== canonical(vmsB)) result.differences.push('the two replicas answer `vms` differently');
    const known: KnownRule[] = vms.flatMap((vm) => vm.portRules.map((rule) => ({ id: rule.id, rule, vm })));
    const routerRules: RouterRule[] = parseNatDestination((sim.running() as { nat?: { destination?: unknown } }).nat?.destination ?? null);
    result.rulesAtEnd = { api: known.length, router: routerRules.filter((r) => r.ruleNumber >= RANGE.first && r.ruleNumber <= RANGE.last).length };
    const events = await allPages<ApiEvent>(a.url, adminKey, Q.events, 'rollbackEvents');
    for (const e of events) bump(result.rollbackEvents, `${e.stage}/${e.outcome}`);
    const failedUndo = new Set(events.filter((e) => e.outcome === 'ROLLBACK_FAILED').flatMap((e) => e.commands.map((c) => Number(c.path[3]))));
    for (const d of ruleDifferences(known, routerRules, RANGE, WAN)) result.differences.push(describe(d, failedUndo) + history(d, timeline));

    const report = await gql(a.url, adminKey, Q.sync);
    type Owned = { ruleNumber: number; state: string } | null;
    const sync = report.data?.syncReport as
      | { inSync: boolean; items: { kind: string; ruleNumber: number; fields: { field: string; expected: string | null; actual: string | null }[] }[]; firewall: { managed: Owned } | null; hairpin: Owned }
      | undefined;
    if (!sync) result.differences.push(`syncReport failed: ${JSON.stringify(report.errors)}`);
    else if (!sync.inSync)
      result.differences.push(`syncReport.inSync false: ${sync.items.map((i) => `${i.kind} ${i.ruleNumber}${i.fields.length ? ` (${i.fields.map((f) => `${f.field} ${f.expected}->${f.actual}`).join(', ')})` : ''}`).join('; ')}`);
    // The rules we own beside the NAT rules must have followed the port rules too.
    for (const [what, owned] of [['firewall accept rule', sync?.firewall?.managed ?? null], ['hairpin masquerade rule', sync?.hairpin ?? null]] as const) {
      if (owned && owned.state !== 'IN_PLACE') result.differences.push(`${what} ${owned.ruleNumber}: ${owned.state}`);
    }

    // An acknowledged write nobody tried to undo must still be there.
    const vmIds = new Set(vms.map((v) => v.id));
    const ruleIds = new Set(known.map((k) => k.id));
    for (const id of acked.vms) if (!vmIds.has(id) && !deleteAttempted.has(id)) result.differences.push(`vm ${id}: provisionVm succeeded, never decommissioned, but it is gone`);
    for (const [id, vmId] of acked.rules)
      if (!ruleIds.has(id) && !deleteAttempted.has(id) && !deleteAttempted.has(vmId)) result.differences.push(`port rule ${id}: created with success, never removed, but it is gone`);

    result.routerCommits = sim.commitCount;
    result.routerReverts = sim.revertCount;
    for (const [k, v] of Object.entries(perKind)) result.mutations.byKind[k] = `${v.ok}/${v.sent}`;
    result.pass = result.differences.length === 0;
    return result;
  } finally {
    result.seconds = Math.round((performance.now() - t0) / 100) / 10;
    journal?.end();
    await Promise.all(replicas.map((r) => r?.stop('SIGTERM')));
    await sim?.close();
    await db?.drop();
  }
}

function describe(d: RuleDifference, failedUndo: Set<number>): string {
  const note = failedUndo.has(d.ruleNumber) ? ' [a ROLLBACK_FAILED event names this rule]' : '';
  if (d.kind === 'MISSING_ON_ROUTER') return `rule ${d.ruleNumber} (${d.id}): in the API, not on the router${note}`;
  if (d.kind === 'DIFFERS') return `rule ${d.ruleNumber} (${d.id}): differs: ${d.fields.map((f) => `${f.field} api=${f.expected} router=${f.actual}`).join(', ')}${note}`;
  const r = d.routerRule;
  return `rule ${d.ruleNumber}: on the router (${r.protocol} ${r.externalPort} -> ${r.translationAddress}:${r.internalPort}${r.disabled ? ', disabled' : ''}, "${r.description}"), unknown to the API${note}`;
}

/** The last requests of the timeline that concern this rule: its id, or the name and description numbers the run gave it. */
function history(d: RuleDifference, timeline: { t: number; what: string; [k: string]: unknown }[]): string {
  const needles = new Set<string>();
  if (d.kind !== 'UNKNOWN_TO_DATABASE') needles.add(d.id);
  const texts = d.kind === 'UNKNOWN_TO_DATABASE' ? [d.routerRule.description ?? ''] : d.kind === 'DIFFERS' ? d.fields.flatMap((f) => [f.expected ?? '', f.actual ?? '']) : [];
  for (const text of texts) {
    const m = /(?:chaos (?:rule|update) |vm c\d+-)(\d+)/.exec(text);
    if (m) for (const n of [`chaos rule ${m[1]}"`, `chaos update ${m[1]}"`, `-${m[1]}"`]) needles.add(n);
  }
  const hits = timeline.filter((e) => e.what === 'request' && [...needles].some((n) => JSON.stringify(e).includes(n))).slice(-4);
  if (!hits.length) return '';
  return `; client history: ${hits.map((e) => `[t=${e.t} ms ${e.kind as string} via replica ${e.replica as string} -> ${(e.code as string) ?? 'ok'} in ${e.ms as number} ms]`).join(' ')}`;
}

/** The figures of one run, as lines. */
export function formatChaosResult(r: ChaosResult): string {
  const kv = (m: Record<string, number | string>) => Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  const lines = [
    `seed ${r.seed}, path ${r.path}: ${r.pass ? 'PASS' : 'FAIL'} in ${r.seconds} s`,
    `  mutations: ${r.mutations.sent} sent, ${r.mutations.ok} ok; failed: ${kv(r.mutations.failed)}`,
    `  ok/sent by kind: ${kv(r.mutations.byKind)}`,
    `  faults armed: ${kv(r.faults)}; kills: ${r.kills}`,
    `  router: ${r.routerCommits} commits, ${r.routerReverts} commit-confirm reverts; rules at end: api ${r.rulesAtEnd.api}, router ${r.rulesAtEnd.router}`,
    `  rollback events (stage/outcome): ${kv(r.rollbackEvents)}`,
    `  journal rows: ${kv(r.operations)}${r.settled ? '' : ' (NOT settled)'}`,
    ...r.differences.map((d) => `  DIFF ${d}`),
    `  logs: ${r.logFiles.join(' ')}`,
  ];
  return lines.join('\n');
}
