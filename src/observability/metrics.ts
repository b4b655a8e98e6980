// Prometheus metrics (docs/monitoring.md). One Registry per app instance, so several apps in one
// process (tests) never share or collide; every label takes values from a closed set, so no
// client can grow the series count.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoordinatorHooks } from '../changes/coordinator.js';
import { RollbackOutcome, RollbackStage } from '../domain/entities/index.js';
import { ErrorCode, INTERNAL_ERROR_CODE, ProtocolCode } from '../domain/errors.js';
import type { RouterCallEvent } from '../vyos/client.js';
import type { CacheOutcome, ReadCacheStats } from '../graphql/read-cache.js';
import type { BackgroundJobStatus } from './health.js';
import type { BuildInfo } from './build-info.js';
import type { PoolCapacity } from './capacity.js';
import { RouterErrorKind } from '../vyos/types.js';

const PREFIX = 'vyos_vm_api_';

/** The one label value every unknown, anonymous or unexpected operation folds into. */
export const OTHER = 'other';

export interface MetricsSources {
  /** the ORM whose connection pool is reported (read at scrape time; absent after shutdown) */
  orm?: () => MikroORM | undefined;
  /** the routers this process drives, each with what is read of it at scrape time (the `router` label) */
  routers: () => readonly RouterMetricsSource[];
  /** SYNC_INTERVAL_SECONDS, exported so alert rules can tell "overdue" from "disabled" */
  syncIntervalSeconds: number;
  /** the read cache's size and whether the change feed vouches for it (read at scrape time) */
  readCache?: () => ReadCacheStats | undefined;
  /** the labels of build_info */
  build?: BuildInfo;
}

/** One router's scrape-time sources. */
export interface RouterMetricsSource {
  name: string;
  /** its background sync job's status */
  background?: () => BackgroundJobStatus | undefined;
  /** its pools' capacity (counted at scrape time, cached by the reader while nothing changed) */
  capacity?: () => Promise<readonly PoolCapacity[]>;
  /** its last firewall check's counts (VYOS_FIREWALL=check); null before the first or when nothing could be checked */
  firewall?: () => { checked: boolean; accepted: number; dropped: number; uncertain: number } | null;
}

export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';
/** `client_error`: the caller's request was refused (its fault); `server_error`: ours or the router's. */
export type OperationOutcome = 'success' | 'client_error' | 'server_error';

// APQ's protocol replies (PERSISTED_QUERY_NOT_FOUND: send the query) are the client's next step, not a failure.
const CLIENT_CODES = new Set<string>([ErrorCode.BAD_USER_INPUT, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ...Object.values(ProtocolCode)]);
const KNOWN_CODES = new Set<string>([...Object.values(ErrorCode), ...Object.values(ProtocolCode), INTERNAL_ERROR_CODE]);
const ROUTER_OUTCOMES = new Set<string>(['ok', ...Object.values(RouterErrorKind)]);
/** Outcomes after which the router answered as a working VyOS (a rejection is a working router saying no). */
const ROUTER_ANSWERED = new Set<string>(['ok', RouterErrorKind.REJECTED]);

/** The closed error code a GraphQL error counts under. */
export function errorCodeLabel(code: unknown): string {
  return typeof code === 'string' && KNOWN_CODES.has(code) ? code : OTHER;
}

/** An operation's outcome from the codes of its errors (none: success). */
export function operationOutcome(codes: readonly string[]): OperationOutcome {
  if (codes.length === 0) return 'success';
  return codes.every((c) => CLIENT_CODES.has(c)) ? 'client_error' : 'server_error';
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const ROUTER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export class AppMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests served, by matched route (or "other") and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time from receiving an HTTP request to finishing its response, by route and status code.',
    labelNames: ['route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly operations = new Counter({
    name: `${PREFIX}graphql_operations_total`,
    help: 'GraphQL operations executed, by operation (root field or "other"), type and outcome.',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly operationDuration = new Histogram({
    name: `${PREFIX}graphql_operation_duration_seconds`,
    help: 'GraphQL operation duration, by operation (root field or "other"), type and outcome.',
    labelNames: ['operation', 'type', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly operationErrors = new Counter({
    name: `${PREFIX}graphql_errors_total`,
    help: 'Errors returned in GraphQL responses, by operation and extensions.code.',
    labelNames: ['operation', 'code'] as const,
    registers: [this.registry],
  });

  readonly routerCalls = new Counter({
    name: `${PREFIX}router_calls_total`,
    help: 'VyOS HTTP API calls, by endpoint, op and outcome ("ok" or the router error kind).',
    labelNames: ['router', 'endpoint', 'op', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly routerCallDuration = new Histogram({
    name: `${PREFIX}router_call_duration_seconds`,
    help: 'VyOS HTTP API call duration, by endpoint, op and outcome.',
    labelNames: ['router', 'endpoint', 'op', 'outcome'] as const,
    buckets: ROUTER_BUCKETS,
    registers: [this.registry],
  });
  readonly routerCommitDuration = new Histogram({
    name: `${PREFIX}router_commit_duration_seconds`,
    help: 'Duration of router commits (one /configure batch), by outcome.',
    labelNames: ['router', 'outcome'] as const,
    buckets: ROUTER_BUCKETS,
    registers: [this.registry],
  });
  readonly routerConfirmDuration = new Histogram({
    name: `${PREFIX}router_confirm_duration_seconds`,
    help: 'Duration of commit-confirm confirmations, by outcome.',
    labelNames: ['router', 'outcome'] as const,
    buckets: ROUTER_BUCKETS,
    registers: [this.registry],
  });
  // Labelled by ROUTER_NAME so that it can be absent (unknown) until the first call.
  readonly routerUp = new Gauge({
    name: `${PREFIX}router_up`,
    help: '1 when the last router API call got a VyOS answer, 0 when it was unreachable, timed out, refused our key or failed (absent before the first call).',
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly routerLastCall = new Gauge({
    name: `${PREFIX}router_last_call_timestamp_seconds`,
    help: 'Unix time of the last finished router API call (0 before the first).',
    labelNames: ['router'] as const,
    registers: [this.registry],
  });

  readonly batches = new Counter({
    name: `${PREFIX}batches_total`,
    help: 'Coordinator batches (one router transaction each), by outcome.',
    labelNames: ['router', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: `${PREFIX}batch_size_changes`,
    help: 'Change sets (client mutations) per coordinator batch.',
    buckets: BATCH_SIZE_BUCKETS,
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly batchCommands = new Histogram({
    name: `${PREFIX}batch_router_commands`,
    help: 'Router commands sent in one coordinator batch (0 when nothing needed to change).',
    buckets: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000],
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly batchDuration = new Histogram({
    name: `${PREFIX}batch_duration_seconds`,
    help: 'Coordinator batch duration, lock to database commit, by outcome.',
    labelNames: ['router', 'outcome'] as const,
    buckets: ROUTER_BUCKETS,
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: `${PREFIX}rollbacks_total`,
    help: 'Changes undone, by the stage that failed and the rollback outcome.',
    labelNames: ['router', 'stage', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly routerUnsaved = new Gauge({
    name: `${PREFIX}router_unsaved`,
    help: "1 while a change is live on the router but its last save to the boot config failed (the save is retried; a reboot would lose the change), 0 once a save succeeded.",
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly routerSaveFailures = new Counter({
    name: `${PREFIX}router_save_failures_total`,
    help: 'Saves of the running config to the boot config (/config-file save) that failed.',
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly routerBusyWaitSeconds = new Counter({
    name: `${PREFIX}router_busy_wait_seconds_total`,
    help: 'Time batches spent waiting out a busy router (a commit-confirm not ours pending, a held commit lock).',
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly routerBusyWaits = new Counter({
    name: `${PREFIX}router_busy_waits_total`,
    help: 'Batches that waited out a busy router, by outcome: through (committed in the end) or gave_up (answered ROUTER_UNAVAILABLE, reason ROUTER_BUSY).',
    labelNames: ['router', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly readCacheRequests = new Counter({
    name: `${PREFIX}read_cache_requests_total`,
    help: 'GraphQL requests the read cache saw, by outcome: hit (answered from the cache), miss (computed and kept) or bypass (not cacheable, or the cache stood aside).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly readPlanRequests = new Counter({
    name: `${PREFIX}read_plan_requests_total`,
    help: 'GraphQL requests whose document has a read plan, by outcome: planned (answered by its one SQL statement, without graphql-js) or declined (a variable, argument, limit or database error sent it through the full pipeline).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly changeFeedLost = new Counter({
    name: `${PREFIX}change_feed_lost_total`,
    help: 'Times the change feed (LISTEN connection that keeps the read cache fresh) closed or stopped answering its heartbeat; the cache stands aside until it listens again.',
    registers: [this.registry],
  });

  readonly subscriptions = new Gauge({
    name: `${PREFIX}subscription_connections`,
    help: 'Open, authenticated graphql-ws (subscription) connections.',
    registers: [this.registry],
  });

  constructor(private readonly sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
    // check metrics refuses them); nodejs_active_{handles,requests,resources}{type} carry the same.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    for (const outcome of ['hit', 'miss', 'bypass']) this.readCacheRequests.labels(outcome).inc(0);
    for (const outcome of ['planned', 'declined']) this.readPlanRequests.labels(outcome).inc(0);
    const { registry } = this;
    const cache = () => sources.readCache?.();
    const cacheGauges: [string, string, (c: ReadCacheStats | undefined) => number][] = [
      ['read_cache_bytes', 'Size of the answers held by the read cache (their JSON length; READ_CACHE_MAX_BYTES bounds it).', (c) => c?.bytes ?? 0],
      ['read_cache_entries', 'Answers held by the read cache.', (c) => c?.entries ?? 0],
      [
        'read_cache_fresh',
        '1 while every committed change reaches this replica (its change feed listens), so the read cache may answer; 0 while it stands aside (and always when it is off).',
        (c) => (c?.fresh ? 1 : 0),
      ],
      ['read_cache_max_bytes', 'READ_CACHE_MAX_BYTES: the read cache bound (0 = off), so the rules can tell standing aside from off.', (c) => c?.maxBytes ?? 0],
    ];
    for (const [name, help, read] of cacheGauges) {
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers: [registry],
        collect() {
          this.set(read(cache()));
        },
      });
    }

    const pool = () => {
      try {
        const knex = sources.orm?.()?.em.getConnection().getKnex() as { client?: { pool?: Pool } } | undefined;
        return knex?.client?.pool ?? null;
      } catch {
        return null;
      }
    };
    new Gauge({
      name: `${PREFIX}db_pool_connections`,
      help: 'Database pool connections by state: used (checked out) or idle.',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const p = pool();
        if (!p) return;
        this.labels('used').set(p.numUsed());
        this.labels('idle').set(p.numFree());
      },
    });
    new Gauge({
      name: `${PREFIX}db_pool_waiting_requests`,
      help: 'Requests waiting for a database pool connection.',
      registers: [registry],
      collect() {
        const p = pool();
        this.set(p ? p.numPendingAcquires() : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}db_pool_max_connections`,
      help: 'The database pool size limit.',
      registers: [registry],
      collect() {
        const p = pool();
        this.set(p?.max ?? 0);
      },
    });

    const routers = () => {
      try {
        return sources.routers();
      } catch {
        return [];
      }
    };
    // Each router's sync job status, read once per gauge (absent routers export nothing).
    const eachBackground = (fn: (router: string, s: BackgroundJobStatus) => void) => {
      for (const r of routers()) {
        let status: BackgroundJobStatus | undefined;
        try {
          status = r.background?.();
        } catch {
          status = undefined;
        }
        if (status) fn(r.name, status);
      }
    };
    new Gauge({
      name: `${PREFIX}drift_items`,
      help: 'Drift items found by the last sync this replica ran, by kind (0 on standby replicas; absent before the first run).',
      labelNames: ['router', 'kind'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachBackground((router, s) => {
          if (!s.lastSuccessAt) return;
          for (const kind of DRIFT_KINDS) this.labels(router, kind).set(s.counts[kind] ?? 0);
        });
      },
    });
    new Gauge({
      name: `${PREFIX}sync_last_run_timestamp_seconds`,
      help: 'Unix time the background sync job last finished a run, successful or not (0 before the first).',
      labelNames: ['router'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachBackground((router, s) => {
          if (s.lastRunAt) this.labels(router).set(s.lastRunAt.getTime() / 1000);
        });
      },
    });
    new Gauge({
      name: `${PREFIX}sync_last_success_timestamp_seconds`,
      help: 'Unix time the background sync job last did its job: compared router and database, or confirmed another replica holds the lock (0 before the first).',
      labelNames: ['router'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachBackground((router, s) => {
          if (s.lastSuccessAt) this.labels(router).set(s.lastSuccessAt.getTime() / 1000);
        });
      },
    });
    new Gauge({
      name: `${PREFIX}sync_leader`,
      help: '1 on the replica that holds the sync lock and runs the comparison, 0 on standby replicas.',
      labelNames: ['router'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachBackground((router, s) => {
          if (s.leader !== undefined) this.labels(router).set(s.leader ? 1 : 0);
        });
      },
    });
    new Gauge({
      name: `${PREFIX}sync_consecutive_failures`,
      help: 'Background sync runs that failed in a row (0 after a successful run).',
      labelNames: ['router'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachBackground((router, s) => {
          if (s.consecutiveFailures !== undefined) this.labels(router).set(s.consecutiveFailures);
        });
      },
    });
    // The reader shares one count between the gauges, and keeps it while nothing changed.
    const capacity = (r: RouterMetricsSource) => r.capacity?.().catch(() => null) ?? Promise.resolve(null);
    const poolGauges: [string, string, (p: PoolCapacity) => number][] = [
      ['pool_size', 'Values in a pool the server allocates from (NAT_RULE_RANGE, EXTERNAL_PORT_RANGE per transport, LAN_POOL), by router and pool.', (p) => p.total],
      ['pool_free', 'Values of a pool that no VM or port rule in the database uses, by router and pool (absent while the database cannot be counted).', (p) => p.free],
    ];
    for (const [name, help, read] of poolGauges) {
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        labelNames: ['router', 'pool'] as const,
        registers: [registry],
        async collect() {
          this.reset();
          for (const r of routers()) for (const p of (await capacity(r)) ?? []) this.labels(r.name, p.pool).set(read(p));
        },
      });
    }
    new Gauge({
      name: `${PREFIX}firewall_port_rules`,
      help: "Enabled port rules by what the router's firewall ipv4 forward filter does with a new connection to their VM (accepted, dropped, uncertain), as the last syncReport on this replica found (VYOS_FIREWALL=check; absent before the first check and when nothing could be checked).",
      labelNames: ['router', 'verdict'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of routers()) {
          const f = r.firewall?.();
          if (f?.checked) for (const verdict of ['accepted', 'dropped', 'uncertain'] as const) this.labels(r.name, verdict).set(f[verdict]);
        }
      },
    });
    if (sources.build) {
      const { version, node_version, commit } = sources.build;
      const labels: Record<string, string> = { version, node_version, ...(commit ? { commit } : {}) };
      new Gauge({
        name: `${PREFIX}build_info`,
        help: 'Always 1; the labels say what runs: the package version, the Node.js version and the git commit it was built from (when the build knew it).',
        labelNames: Object.keys(labels),
        registers: [registry],
      }).set(labels, 1);
    }

    new Gauge({
      name: `${PREFIX}sync_interval_seconds`,
      help: 'SYNC_INTERVAL_SECONDS: how often the background sync job runs (0 = disabled).',
      registers: [registry],
      collect() {
        this.set(sources.syncIntervalSeconds);
      },
    });
  }

  /** One router's VyosClient `onCall` option. */
  routerCallOf(router: string): (e: RouterCallEvent) => void {
    return (e) => {
      const outcome = ROUTER_OUTCOMES.has(e.outcome) ? e.outcome : OTHER;
      const seconds = e.durationMs / 1000;
      const op = ROUTER_OPS.has(e.op) ? e.op : OTHER;
      const endpoint = ROUTER_ENDPOINTS.has(e.endpoint) ? e.endpoint : OTHER;
      this.routerCalls.labels(router, endpoint, op, outcome).inc();
      this.routerCallDuration.labels(router, endpoint, op, outcome).observe(seconds);
      if (endpoint === '/configure' && op === 'commands') this.routerCommitDuration.labels(router, outcome).observe(seconds);
      if (endpoint === '/configure' && op === 'confirm') this.routerConfirmDuration.labels(router, outcome).observe(seconds);
      this.routerUp.labels(router).set(ROUTER_ANSWERED.has(outcome) ? 1 : 0);
      this.routerLastCall.labels(router).set(Date.now() / 1000);
    };
  }

  /**
   * Drops a retired router's series, so the `router` label keeps to the routers driven now
   * (an updated router keeps its series: its unit restarts under the same name).
   */
  async forgetRouter(router: string): Promise<void> {
    for (const metric of this.registry.getMetricsAsArray()) {
      const m = metric as unknown as { labelNames?: readonly string[]; get(): Promise<{ values: { labels: Record<string, string | number> }[] }>; remove(labels: Record<string, string | number>): void };
      if (!m.labelNames?.includes('router')) continue;
      for (const { labels } of (await m.get()).values) {
        if (labels.router !== router) continue;
        const { le: _le, quantile: _q, ...own } = labels;
        m.remove(own);
      }
    }
  }

  /** One router's Coordinator `hooks` option; its rollback series exist from here on at 0, so increase() sees the first. */
  coordinatorHooksOf(router: string): CoordinatorHooks {
    for (const stage of Object.values(RollbackStage)) {
      for (const outcome of Object.values(RollbackOutcome)) this.rollbacks.labels(router, stage, outcome).inc(0);
    }
    this.routerUnsaved.labels(router).set(0);
    this.routerSaveFailures.labels(router).inc(0);
    this.routerBusyWaitSeconds.labels(router).inc(0);
    return {
      batch: (e) => {
        this.batches.labels(router, e.outcome).inc();
        this.batchSize.labels(router).observe(e.changeSets);
        this.batchCommands.labels(router).observe(e.commands);
        this.batchDuration.labels(router, e.outcome).observe(e.durationMs / 1000);
      },
      rollback: (e) => {
        this.rollbacks.labels(router, e.stage, e.outcome).inc();
      },
      busyWait: (e) => {
        this.routerBusyWaitSeconds.labels(router).inc(e.waitedMs / 1000);
        this.routerBusyWaits.labels(router, e.through ? 'through' : 'gave_up').inc();
      },
      saved: (e) => {
        this.routerUnsaved.labels(router).set(e.ok ? 0 : 1);
        if (!e.ok) this.routerSaveFailures.labels(router).inc();
      },
    };
  }

  /** One HTTP request, labelled by a route from a closed set. */
  httpRequest(route: string, status: number, seconds: number): void {
    const code = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER;
    this.httpRequests.labels(route, code).inc();
    this.httpDuration.labels(route, code).observe(seconds);
  }

  /** One GraphQL operation; `operation` must already be bounded (see operation-observer.ts). */
  graphqlOperation(operation: string, type: OperationType, codes: readonly string[], seconds: number): void {
    const outcome = operationOutcome(codes);
    this.operations.labels(operation, type, outcome).inc();
    this.operationDuration.labels(operation, type, outcome).observe(seconds);
    for (const code of codes) this.operationErrors.labels(operation, errorCodeLabel(code)).inc();
  }

  readCacheRequest(outcome: CacheOutcome): void {
    this.readCacheRequests.labels(outcome).inc();
  }

  subscriptionOpened(): void {
    this.subscriptions.inc();
  }

  subscriptionClosed(): void {
    this.subscriptions.dec();
  }

  /** The Prometheus text exposition of everything above. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The knex (tarn) pool, as far as metrics read it. */
interface Pool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

// design.md DriftKind: listed here (not imported) so metrics do not depend on the drift module.
const DRIFT_KINDS = ['MISSING_ON_ROUTER', 'UNMANAGED_ON_ROUTER', 'DRIFTED', 'SHADOWED'] as const;
// The VyosClient's endpoints and ops (src/vyos/client.ts): closed sets, anything new shows as "other".
const ROUTER_ENDPOINTS = new Set(['/retrieve', '/configure', '/config-file', '/show', '/info', '/reset', '/generate', '/image', '/reboot', '/poweroff']);
const ROUTER_OPS = new Set(['showConfig', 'exists', 'returnValues', 'commands', 'confirm', 'save', 'load', 'show', 'info', 'set', 'delete', 'comment']);
