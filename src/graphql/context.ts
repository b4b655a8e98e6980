import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { AuditTrail } from '../changes/audit-trail.js';
import type { Coordinator } from '../changes/coordinator.js';
import type { EventBus } from '../changes/event-bus.js';
import type { AppPubSub } from '../changes/events.js';
import type { Role } from '../domain/entities/index.js';
import type { SyncJob } from '../drift/sync-job.js';
import type { Fleet } from '../fleet/fleet.js';
import type { DriftDeps } from '../drift/sync-report.js';
import type { HealthDeps } from '../observability/health.js';
import type { Logger } from '../observability/logger.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { KeyCache } from './auth.js';
import type { DryRunPlan } from './dry-run.js';
import type { CacheOutcome, ReadCache } from './read-cache.js';
import type { ReadLoaders } from './read-model.js';
import type { RouterApi } from '../vyos/types.js';

export interface AuthInfo {
  keyId: string;
  name: string;
  role: Role;
  /** the key's own rate limits (units a minute; 0 = none); null = the server default */
  limits?: { writesPerMinute: number | null; readsPerMinute: number | null };
}

/** What the composition root hands to every resolver (one instance per process). */
export interface AppServices {
  config: Config;
  orm: MikroORM;
  router: RouterApi;
  /** the environment's router's coordinator (fleet.home) */
  coordinator: Coordinator;
  /** every router this process drives; changes go to their router's unit (src/fleet) */
  fleet: Fleet;
  pubsub: AppPubSub;
  /** cross-replica fan-out of rollback and drift events */
  events: EventBus;
  logger: Logger;
  /** answers to repeated database-only reads (docs/read-cache.md) */
  readCache: ReadCache;
  /** API key rows, looked up once per change of the api_key table; absent when READ_CACHE_MAX_BYTES=0 */
  keys?: KeyCache;
  /** what syncReport, reconcile and importRouterRules need (the same slice the sync job uses) */
  drift: DriftDeps;
  /** what GET /health and the health query check */
  health: HealthDeps;
  /** the background drift sync (idle when SYNC_INTERVAL_SECONDS=0) */
  syncJob: SyncJob;
  /** this app's Prometheus registry and instruments */
  metrics: AppMetrics;
  /** the audit_event writer and its retention (changes/audit-trail.ts) */
  audit: AuditTrail;
}

export interface GraphQLContext {
  /** this request's (or subscription's) unit of work; never the global EntityManager */
  em: EntityManager;
  auth: AuthInfo | null;
  app: AppServices;
  requestId: string;
  /** per-request batched row loaders for the read side */
  loaders: ReadLoaders;
  /** the plans of this operation's dry-run mutations, for `extensions.dryRun` (dry-run.ts) */
  dryRuns?: DryRunPlan[];
  /** what the read cache did with this request (set by read-cache-plugin.ts; absent for subscriptions) */
  readCache?: CacheOutcome;
  /** how the request came, for its audit rows */
  transport?: 'http' | 'ws';
  /** the client address (after TRUST_PROXY_HOPS), for its audit rows */
  clientAddress?: string | null;
  /** response keys of the root mutation fields that ran (and wrote or handed on their audit row: graphql/audit.ts) */
  audited?: Set<string>;
}
