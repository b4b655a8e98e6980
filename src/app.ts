// Composition: config -> database -> router client -> coordinator -> schema -> HTTP server.
// main.ts runs it for real; tests run it in-process against real PostgreSQL and the simulator.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config.js';
import { LocalEventBus, PostgresEventBus, type EventBus } from './changes/event-bus.js';
import { createAppPubSub, type AppPubSub } from './changes/events.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './database/embedded.js';
import { migrateUp } from './database/migrate-lock.js';
import { isSingleSessionDatabase, openOrm } from './database/orm.js';
import { ChangeClock, watchLocalWrites } from './database/change-clock.js';
import { ChangeFeed } from './database/change-feed.js';
import { ReadCache } from './graphql/read-cache.js';
import type { SyncJob } from './drift/sync-job.js';
import type { Coordinator } from './changes/coordinator.js';
import type { JournalRow } from './changes/change-store.js';
import type { VyosClient } from './vyos/client.js';
import { Fleet } from './fleet/fleet.js';
import { RouterUnit, type UnitShared } from './fleet/router-unit.js';
import { createFirstRunKey, KeyCache, seedAdminKey } from './graphql/auth.js';
import type { AppServices } from './graphql/context.js';
import { createSchema } from './graphql/schema.js';
import { AuditTrail } from './changes/audit-trail.js';
import type { HealthDeps } from './observability/health.js';
import { createLogger, maskUrl, type Logger } from './observability/logger.js';
import { AppMetrics } from './observability/metrics.js';
import { readBuildInfo } from './observability/build-info.js';
import { startHttpServer, type HttpServer } from './server.js';
import { drainTimeoutMs } from './shutdown.js';
import { adoptEnvRouter } from './fleet/routers.js';
import { startSimulator, type Simulator } from './simulator/simulator.js';

export interface RunningApp {
  url: string;
  config: Config;
  orm: MikroORM;
  coordinator: Coordinator;
  router: VyosClient;
  pubsub: AppPubSub;
  logger: Logger;
  http: HttpServer;
  services: AppServices;
  /** this app's Prometheus registry and instruments (GET /metrics) */
  metrics: AppMetrics;
  /** the background drift sync (idle when SYNC_INTERVAL_SECONDS=0) */
  syncJob: SyncJob;
  /** start-up recovery of operations a dead process left unfinished (the environment's router; each unit has its own) */
  readonly recovery: Promise<JournalRow[]>;
  /** every router this process drives (src/fleet) */
  fleet: Fleet;
  /** answers to repeated reads (docs/read-cache.md) */
  readCache: ReadCache;
  /** what keeps the read cache told of other processes' commits (null: embedded database, or cache off) */
  changeFeed: ChangeFeed | null;
  /** the built-in simulator, when no VYOS_URL was given */
  simulator: Simulator | null;
  embedded: EmbeddedDatabase | null;
  stop(): Promise<void>;
}

export async function startApp(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningApp> {
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedDatabase(config.dataDir, 12);
    databaseUrl = embedded.url;
    logger.warn({ dataDir: config.dataDir }, 'DATABASE_URL is not set: using the embedded PGlite database (first-run mode, not for production)');
  } else {
    logger.info({ database: maskUrl(databaseUrl) }, 'connecting to PostgreSQL');
  }
  const orm = await openOrm({ url: databaseUrl, poolMax: 10 });
  // PGlite (ours, or one served to us) multiplexes one database session over every connection:
  // a second transaction waits for the first, LISTEN does not reach other connections, and
  // session locks are shared. Such a database gets the single-process variants below.
  const singleSession = embedded !== null || (await isSingleSessionDatabase(orm));
  if (config.migrateOnStart) {
    // A single-session database has one process: nobody to race with.
    const applied = await migrateUp(orm, databaseUrl, { lock: !singleSession });
    if (applied.length) logger.info({ migrations: applied }, 'applied database migrations');
  }
  // The environment's router is a row (src/fleet/routers.ts): made, updated or renamed here.
  await adoptEnvRouter(orm, config);
  if (config.adminApiKey) await seedAdminKey(orm.em.fork(), config.adminApiKey);
  else await createFirstRunKey(orm, config, logger);

  let simulator: Simulator | null = null;
  let vyosUrl = config.vyosUrl;
  if (!vyosUrl) {
    simulator = await startSimulator({ port: 0, keys: [config.vyosApiKey], version: 'rolling', commitLatencyMs: 200 });
    vyosUrl = simulator.url;
    logger.warn(
      { simulator: vyosUrl },
      '!!! VYOS_URL is not set: using the BUILT-IN ROUTER SIMULATOR. Nothing reaches a real router. Set VYOS_URL and VYOS_API_KEY for production. !!!',
    );
  }
  // Read at scrape time: the pool as it is now, the fleet's routers as they are.
  const metrics = new AppMetrics({
    orm: () => orm,
    routers: () => fleet.units().map((u) => u.metrics()),
    syncIntervalSeconds: config.syncIntervalSeconds,
    readCache: () => readCache.stats(),
    build: readBuildInfo(),
  });

  // Read caches (docs/read-cache.md): a single-session database has one process, whose own writes
  // are all there is; on PostgreSQL the change feed brings the other replicas' commits.
  const clock = new ChangeClock(singleSession);
  watchLocalWrites(orm, clock);
  const feed = singleSession || config.readCacheMaxBytes === 0 ? null : await ChangeFeed.start(databaseUrl, clock, logger, () => metrics.changeFeedLost.inc());
  const readCache = new ReadCache(clock, config.readCacheMaxBytes);
  const keys = config.readCacheMaxBytes > 0 ? new KeyCache(clock) : undefined;

  const pubsub = createAppPubSub();
  const events: EventBus = singleSession ? new LocalEventBus(pubsub) : await PostgresEventBus.start(databaseUrl, orm, pubsub, logger);
  // One transaction domain per router (src/fleet): the environment's, and every registered one.
  const shared: UnitShared = { orm, logger, metrics, events, clock, singleSession, databaseUrl: singleSession ? null : databaseUrl, replicaId: randomUUID().slice(0, 8) };
  const home = new RouterUnit({ ...config, vyosUrl }, shared, { simulator: simulator !== null });
  const fleet = new Fleet(config, shared, home);
  const { coordinator, client: router, drift, syncJob } = home;
  const health: HealthDeps = { orm, routers: () => fleet.units().map((u) => u.health()) };
  const audit = new AuditTrail(orm, { retentionMs: config.auditRetentionMs, logger });
  const services: AppServices = { config, orm, router, coordinator, fleet, pubsub, events, logger, drift, health, syncJob, metrics, readCache, keys, audit };
  const schema = await createSchema(pubsub);
  const http = await startHttpServer(schema, services);
  logger.info({ url: `${http.url}/graphql` }, 'vyos-vm-api listening');
  await fleet.start();
  audit.start();

  let stopped = false;
  return {
    url: http.url,
    config,
    orm,
    coordinator,
    router,
    pubsub,
    logger,
    http,
    services,
    metrics,
    syncJob,
    get recovery() {
      return home.recovery;
    },
    fleet,
    readCache,
    changeFeed: feed,
    simulator,
    embedded,
    async stop() {
      if (stopped) return;
      stopped = true;
      // 1. No new work: requests get 503 with Connection: close, /ready 503, no new sockets or
      // operations, no new sync runs, resumes or probes (docs/deploy.md, "Stopping").
      http.shutdown.begin();
      audit.stop();
      const background = fleet.stop();
      // 2. What runs finishes and is answered: requests, WebSocket operations, their batches.
      const drainMs = drainTimeoutMs(config);
      if (!(await http.shutdown.idle(drainMs))) {
        logger.warn({ ...http.shutdown.running(), drainMs }, 'shutdown: work still running after the drain deadline is cut off (an unconfirmed router commit reverts by itself; start-up recovery records it)');
      }
      // Let the last results reach their sockets before the sockets close.
      await new Promise((resolve) => setImmediate(resolve));
      // 3. Close.
      await http.close();
      logger.debug('shutdown: HTTP and WebSockets closed');
      await background;
      await fleet.drained();
      await events.close();
      await feed?.close();
      await orm.close(true);
      logger.debug('shutdown: database pool closed');
      await simulator?.close();
      await embedded?.stop();
      logger.debug('shutdown: done');
    },
  };
}
