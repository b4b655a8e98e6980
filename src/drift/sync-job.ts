// The background sync: every SYNC_INTERVAL_SECONDS one replica takes the sync report, publishes
// it when it is not in sync, and repairs only when AUTO_RECONCILE asks for it.
//
// Election: a session-level `pg_try_advisory_lock` held on a dedicated connection. Only the
// replica holding it runs; the others stay on standby and try again each interval. A process
// that dies or loses its connection loses the lock with it, so another replica takes over.
import pg from 'pg';
import type { Config } from '../config.js';
import type { ComponentHealth } from '../observability/health.js';
import type { Logger } from '../observability/logger.js';
import { countByKind, DriftKind, type SyncReportData } from './drift-diff.js';
import { needsRepair, ReconcileMode } from './reconcile-plan.js';

export interface SyncJobDeps {
  config: Pick<Config, 'syncIntervalSeconds' | 'autoReconcile' | 'routerName' | 'natRuleRange' | 'hairpin'>;
  logger: Logger;
  /** null: no election (the embedded single-process database); this process always runs */
  databaseUrl: string | null;
  /** a consistent report (takeSyncReport) */
  report(): Promise<SyncReportData>;
  /** a real reconcile in `mode`; resolves with the number of commands sent */
  repair(mode: ReconcileMode): Promise<{ commands: unknown[] }>;
  /** fan the report out to driftDetected subscribers */
  publish(report: SyncReportData): Promise<void> | void;
  /** resume journal entries whose undo is still owed (the coordinator's resumeUnsettled) */
  resume?(): Promise<unknown>;
  /** names this process's election connections (`vyos-vm-api sync-job <replicaId>`), so a fleet can count leaderships per replica */
  replicaId?: string;
  /** asked after each run as leader: true hands the lock to another replica (a fleet balancing its routers' jobs) */
  shouldYield?(): Promise<boolean>;
}

export interface SyncJobOptions {
  /** overrides SYNC_INTERVAL_SECONDS (tests) */
  intervalMs?: number;
  /** the longest wait between attempts while failing; default max(interval, 10 minutes) */
  maxBackoffMs?: number;
  /** the delay before the first run; default min(interval, 5 s) */
  firstRunMs?: number;
}

export interface SyncJobStatus {
  enabled: boolean;
  intervalSeconds: number;
  /** this replica holds the sync lock */
  leader: boolean;
  /** a run is in progress */
  running: boolean;
  lastRunAt: Date | null;
  /** null before the first run */
  lastOk: boolean | null;
  lastError: string | null;
  lastSuccessAt: Date | null;
  consecutiveFailures: number;
  /** from the last report this replica took (null when it has none) */
  inSync: boolean | null;
  counts: Record<DriftKind, number>;
  lastRepair: { at: Date; mode: ReconcileMode; commands: number } | null;
  nextRunAt: Date | null;
}

export type TickResult = 'ok' | 'standby' | 'failed' | 'busy';

const AUTO_MODES: Record<Exclude<Config['autoReconcile'], 'off'>, ReconcileMode> = {
  merged: ReconcileMode.MERGED,
  replaced: ReconcileMode.REPLACED,
  overridden: ReconcileMode.OVERRIDDEN,
};

export class SyncJob {
  readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly firstRunMs: number;
  private readonly lockKey: string;
  private client: pg.Client | null = null;
  /** stay standby for one election, so another replica can take the lock just given up */
  private skipElection = false;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<TickResult> | null = null;
  private started: Date | null = null;
  private stopped = false;
  private state: Omit<SyncJobStatus, 'enabled' | 'intervalSeconds' | 'running'> = {
    leader: false,
    lastRunAt: null,
    lastOk: null,
    lastError: null,
    lastSuccessAt: null,
    consecutiveFailures: 0,
    inSync: null,
    counts: countByKind([]),
    lastRepair: null,
    nextRunAt: null,
  };

  constructor(
    private readonly deps: SyncJobDeps,
    opts: SyncJobOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? deps.config.syncIntervalSeconds * 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? Math.max(this.intervalMs, 600_000);
    this.firstRunMs = opts.firstRunMs ?? Math.min(this.intervalMs, 5000);
    this.lockKey = `vyos-vm-api:sync-job:${deps.config.routerName}`;
  }

  get enabled(): boolean {
    return this.intervalMs > 0;
  }

  /** Schedules the runs; does nothing when the interval is 0. */
  start(): void {
    if (!this.enabled || this.started) return;
    this.started = new Date();
    this.schedule(this.firstRunMs);
  }

  /** Stops scheduling, waits for a run in progress, and gives the lock up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.state.nextRunAt = null;
    await this.current?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    this.state.leader = false;
    if (client) {
      await client.query('select pg_advisory_unlock(hashtext($1))', [this.lockKey]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  /** One run: elect, report, publish, maybe repair. Never throws. Exposed for tests and tools. */
  tick(): Promise<TickResult> {
    if (this.current) return Promise.resolve('busy');
    this.current = this.run().finally(() => (this.current = null));
    return this.current;
  }

  status(): SyncJobStatus {
    return { ...this.state, enabled: this.enabled, intervalSeconds: this.intervalMs / 1000, running: this.current !== null, counts: { ...this.state.counts } };
  }

  /** For /health (BackgroundStatus): down when overdue by more than 3 intervals, degraded while failing. */
  check(now = new Date()): ComponentHealth {
    if (!this.enabled) return { status: 'ok', detail: 'sync job disabled (SYNC_INTERVAL_SECONDS=0)' };
    const s = this.state;
    const since = s.lastSuccessAt ?? this.started;
    const overdueMs = since ? now.getTime() - since.getTime() : 0;
    if (overdueMs > 3 * this.intervalMs) {
      return { status: 'down', detail: `no successful sync run for ${Math.round(overdueMs / 1000)} s (interval ${this.intervalMs / 1000} s)${s.lastError ? `; last error: ${s.lastError}` : ''}` };
    }
    if (s.lastOk === false) return { status: 'degraded', detail: `last ${s.consecutiveFailures} run(s) failed: ${s.lastError}` };
    if (s.lastRunAt === null) return { status: 'ok', detail: 'waiting for the first run' };
    if (!s.leader) return { status: 'ok', detail: 'standby: another replica holds the sync lock' };
    const found = Object.entries(s.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
    return { status: 'ok', detail: `last run ${s.lastRunAt.toISOString()}: ${found.length ? `drift found (${found.join(', ')})` : 'in sync'}` };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.state.nextRunAt = new Date(Date.now() + delayMs);
    this.timer = setTimeout(() => {
      void this.tick().then(() => this.schedule(this.nextDelay()));
    }, delayMs);
    this.timer.unref();
  }

  /** The interval, or while failing an exponential back-off capped at maxBackoffMs. */
  private nextDelay(): number {
    const f = this.state.consecutiveFailures;
    if (f === 0) return this.intervalMs;
    return Math.min(this.intervalMs * 2 ** f, Math.max(this.maxBackoffMs, this.intervalMs));
  }

  private async run(): Promise<TickResult> {
    const { logger } = this.deps;
    const s = this.state;
    try {
      s.leader = await this.elect();
    } catch (e) {
      return this.failed(`sync lock: ${message(e)}`, e);
    }
    if (!s.leader) {
      // Standby is healthy: the lock holder runs the job.
      s.lastRunAt = s.lastSuccessAt = new Date();
      s.lastOk = true;
      s.lastError = null;
      s.consecutiveFailures = 0;
      s.inSync = null;
      s.counts = countByKind([]);
      return 'standby';
    }
    try {
      // An owed undo is settled first, so the report shows what it left, if anything.
      await this.deps.resume?.().catch((err: unknown) => logger.warn({ err }, 'sync: could not resume unsettled journal entries'));
      const report = await this.deps.report();
      s.counts = countByKind(report.items);
      s.inSync = report.inSync;
      if (!report.inSync) {
        logger.warn({ drift: s.counts }, `sync: ${report.items.length} drift item(s) between the database and the router`);
        await Promise.resolve(this.deps.publish(report)).catch((err: unknown) => logger.warn({ err }, 'sync: could not publish driftDetected'));
        await this.autoRepair(report);
      } else {
        logger.debug('sync: database and router agree');
      }
      s.lastRunAt = s.lastSuccessAt = new Date();
      s.lastOk = true;
      s.lastError = null;
      s.consecutiveFailures = 0;
      if (await this.deps.shouldYield?.().catch(() => false)) await this.giveUpLock();
      return 'ok';
    } catch (e) {
      return this.failed(message(e), e);
    }
  }

  private async autoRepair(report: SyncReportData): Promise<void> {
    const setting = this.deps.config.autoReconcile;
    if (setting === 'off') return;
    const mode = AUTO_MODES[setting];
    if (!needsRepair(report.items, mode, this.deps.config.natRuleRange, this.deps.config.hairpin)) return;
    const { commands } = await this.deps.repair(mode);
    this.state.lastRepair = { at: new Date(), mode, commands: commands.length };
    this.deps.logger.warn({ mode, commands: commands.length }, `sync: AUTO_RECONCILE=${setting} repaired the router`);
  }

  private failed(reason: string, err: unknown): TickResult {
    const s = this.state;
    s.lastRunAt = new Date();
    s.lastOk = false;
    s.lastError = reason;
    s.consecutiveFailures++;
    this.deps.logger.warn({ err, failures: s.consecutiveFailures, retryInMs: this.nextDelay() }, `sync run failed: ${reason}`);
    return 'failed';
  }

  /** Hands the lock over: released now, not tried at the next run (another replica's run takes it; if none does, the one after takes it back). */
  private async giveUpLock(): Promise<void> {
    const client = this.client;
    if (!client) return;
    await client.query('select pg_advisory_unlock(hashtext($1))', [this.lockKey]).catch(() => this.drop());
    this.state.leader = false;
    this.skipElection = true;
    this.deps.logger.info('sync: handed this router\'s background sync to another replica (balancing the fleet)');
  }

  /** True when this replica holds (or just took) the lock. */
  private async elect(): Promise<boolean> {
    if (this.deps.databaseUrl === null) return true;
    if (this.skipElection) {
      this.skipElection = false;
      return false;
    }
    if (this.client && this.state.leader) {
      // Still the holder as long as our session lives.
      try {
        await this.client.query('select 1');
        return true;
      } catch {
        this.drop();
      }
    }
    if (!this.client) this.client = await this.connect(this.deps.databaseUrl);
    let won: boolean;
    try {
      const res = await this.client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [this.lockKey]);
      won = res.rows[0]?.ok === true;
    } catch (e) {
      this.drop();
      throw e;
    }
    if (won && !this.state.leader) this.deps.logger.info('sync: this replica now runs the background sync');
    return won;
  }

  private async connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, application_name: this.deps.replicaId ? `vyos-vm-api sync-job ${this.deps.replicaId}` : 'vyos-vm-api sync-job' });
    // A lost connection is a lost lock: forget both, and take them again on the next run.
    client.on('error', (err) => {
      this.deps.logger.warn({ err }, 'sync: lock connection lost');
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    await client.connect();
    return client;
  }

  private drop(): void {
    const client = this.client;
    this.client = null;
    this.state.leader = false;
    client?.end().catch(() => undefined);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
