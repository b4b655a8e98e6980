// One router's transaction domain (docs/operations.md "A fleet of routers"): its client, its
// change store (journal, advisory lock, snapshots), its coordinator (batching, busy waits, stage
// table), its recovery, its drift job, probe and firewall watch. Built from the router's Config
// view, so everything a single-router server guarantees holds for each unit; a slow or dead
// router holds up only its own unit's queue.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { Coordinator } from '../changes/coordinator.js';
import type { EventBus } from '../changes/event-bus.js';
import { DatabaseChangeStore, type JournalRow } from '../changes/change-store.js';
import type { ChangeClock } from '../database/change-clock.js';
import { FirewallWatch } from '../drift/firewall-check.js';
import { reconcile } from '../drift/reconcile.js';
import { SyncJob } from '../drift/sync-job.js';
import { ExpectedRulesCache } from '../drift/expected-cache.js';
import { takeSyncReport, type DriftDeps } from '../drift/sync-report.js';
import { CapacityReader } from '../observability/capacity.js';
import type { RouterHealthDeps } from '../observability/health.js';
import type { Logger } from '../observability/logger.js';
import type { AppMetrics, RouterMetricsSource } from '../observability/metrics.js';
import { RouterProbe } from '../observability/router-probe.js';
import { VyosClient } from '../vyos/client.js';

/** What every unit of one process shares. */
export interface UnitShared {
  orm: MikroORM;
  logger: Logger;
  metrics: AppMetrics;
  events: EventBus;
  clock: ChangeClock;
  singleSession: boolean;
  /** for the sync job's election; null on a single-session database */
  databaseUrl: string | null;
  /** this process among the replicas (names its election connections) */
  replicaId?: string;
  /** whether this router's sync leadership should go to another replica (the fleet's balance) */
  shouldYield?: (router: string) => Promise<boolean>;
}

export class RouterUnit {
  readonly name: string;
  readonly client: VyosClient;
  readonly store: DatabaseChangeStore;
  readonly coordinator: Coordinator;
  readonly drift: DriftDeps;
  readonly syncJob: SyncJob;
  readonly capacity: CapacityReader;
  readonly firewall: FirewallWatch;
  readonly logger: Logger;
  /** start-up recovery of what a dead process left unfinished on this router */
  recovery: Promise<JournalRow[]> = Promise.resolve([]);
  private readonly probe: RouterProbe;

  /** the built-in simulator stands in for this router (a first run) */
  readonly simulator: boolean;

  /** `registered`: a router of the router table rather than the environment's */
  constructor(
    readonly config: Config,
    shared: UnitShared,
    opts: { simulator?: boolean; registered?: boolean } = {},
  ) {
    this.simulator = opts.simulator ?? false;
    this.name = config.routerName;
    const logger = (this.logger = shared.logger.child({ router: config.routerName }));
    if (!config.vyosUrl) throw new Error(`router ${config.routerName} has no URL`);
    // router_up stays current whatever the sync job's back-off (docs/monitoring.md).
    this.probe = new RouterProbe({ intervalMs: config.routerProbeSeconds * 1000, logger });
    this.client = new VyosClient({
      url: config.vyosUrl,
      key: config.vyosApiKey,
      timeoutMs: config.vyosTimeoutMs,
      writeTimeoutMs: config.vyosCommitTimeoutMs,
      tlsInsecure: config.vyosTlsInsecure,
      caFile: config.vyosCaFile ?? undefined,
      commitConfirm: config.vyosCommitConfirm,
      syntax: config.vyosSyntax,
      logger,
      onCall: this.probe.watch(shared.metrics.routerCallOf(config.routerName)),
    });
    this.store = new DatabaseChangeStore(shared.orm, { rules: config, singleSession: shared.singleSession });
    this.coordinator = new Coordinator({ router: this.client, store: this.store, config, logger, events: shared.events, hooks: shared.metrics.coordinatorHooksOf(config.routerName) });
    this.capacity = new CapacityReader(() => shared.orm, config, shared.clock);
    this.firewall = new FirewallWatch(config.vyosFirewall);
    const drift: DriftDeps = (this.drift = { config, coordinator: this.coordinator, router: this.client, firewall: this.firewall, expected: new ExpectedRulesCache() });
    // Each router's job is elected on its own lock; a registered router's first attempt comes at
    // a random point of the first 5 s, so replicas starting together share the leaderships out.
    const firstRunMs = !opts.registered ? undefined : Math.round(Math.random() * Math.min(config.syncIntervalSeconds * 1000, 5000));
    this.syncJob = new SyncJob(
      {
        config,
        logger,
        databaseUrl: shared.databaseUrl,
        report: () => takeSyncReport(drift),
        repair: (mode) => reconcile(drift, mode, false),
        publish: (report) => shared.events.drift({ ...report }),
        resume: () => this.coordinator.catchUp(),
        replicaId: shared.replicaId,
        shouldYield: () => shared.shouldYield?.(config.routerName) ?? Promise.resolve(false),
      },
      { firstRunMs },
    );
  }

  /** Settles what a dead process left half-done (through the runner like any change), then starts the background work. */
  start(): void {
    this.recovery = this.coordinator.resumeUnsettled().catch((e: unknown) => {
      this.logger.error({ err: e }, 'start-up recovery failed; unfinished operations stay in the journal');
      return [];
    });
    this.syncJob.start();
    this.probe.start(() => this.client.exists(['nat']));
  }

  /** No new runs, probes or resumes; what runs is let finish (`drained`). */
  async stop(): Promise<void> {
    this.probe.stop();
    await Promise.all([this.syncJob.stop(), this.coordinator.stop()]);
  }

  async drained(): Promise<void> {
    await this.recovery;
    await this.coordinator.drained();
  }

  health(): RouterHealthDeps {
    return {
      name: this.name,
      router: this.client,
      simulator: this.simulator,
      background: this.syncJob,
      unsaved: () => this.store.unsaved(),
      capacity: () => this.capacity.read(),
      firewall: () => this.firewall.health(),
    };
  }

  metrics(): RouterMetricsSource {
    return {
      name: this.name,
      background: () => this.syncJob.status(),
      capacity: () => this.capacity.read(),
      firewall: () => this.firewall.latest?.report ?? null,
    };
  }
}
