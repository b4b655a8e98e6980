// Starts the whole server in-process against a fresh database and a simulator over real HTTP.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { parseNatDestination } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface GqlError {
  message: string;
  extensions?: { code?: string; [k: string]: unknown };
}
export interface GqlResponse<T> {
  data?: T | null;
  errors?: GqlError[];
}

export interface TestApp {
  app: RunningApp;
  sim: Simulator;
  db: TestDatabase;
  adminKey: string;
  url: string;
  /**
   * One request to /graphql. After a mutation that succeeded it waits, unless `settle: false`, for
   * what the server still does after answering (the save), so that a test's next look at the
   * simulator or the database sees it and a fault armed next is not taken by it.
   */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, opts?: { key?: string | null; headers?: Record<string, string>; settle?: boolean }): Promise<GqlResponse<T>>;
  /** the NAT destination rules the simulator holds (committed config) */
  routerRules(): RouterRule[];
  close(): Promise<void>;
}

/**
 * `simulator`: an already running simulator (key 'sim-key') to share with another app, e.g. two
 * replicas of one router; it is left running by close(). Otherwise one is started from `sim`.
 */
export async function startTestApp(opts: { sim?: SimulatorOptions; simulator?: Simulator; env?: Record<string, string>; db?: TestDatabase; logger?: Logger } = {}): Promise<TestApp> {
  const db = opts.db ?? (await createTestDatabase());
  const sim = opts.simulator ?? (await startSimulator({ keys: ['sim-key'], version: 'rolling', ...opts.sim }));
  const adminKey = `admin-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: db.url,
    VYOS_URL: sim.url,
    VYOS_API_KEY: 'sim-key',
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SYNC_INTERVAL_SECONDS: '0',
    // No background router reads either: they would take faults armed for the test's own calls.
    ROUTER_PROBE_SECONDS: '0',
    VYOS_TIMEOUT_MS: '3000',
    VYOS_COMMIT_TIMEOUT_MS: '5000',
    // A lost write is watched for a late commit in proportion to the short write timeout (default 1200 s).
    VYOS_LATE_WRITE_WATCH_SECONDS: '15',
    // Tests drive many requests with one key from one address; rate-limit tests turn these on.
    RATE_LIMIT_WRITES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    ...opts.env,
  });
  const app = await startApp(config, opts.logger ?? createLogger(config.logLevel));
  const url = app.url;
  return {
    app,
    sim,
    db,
    adminKey,
    url,
    async gql(query, variables, o = {}) {
      const key = o.key === undefined ? adminKey : o.key;
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...o.headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GqlResponse<any>;
      if (o.settle !== false && /^\s*mutation\b/.test(query) && !body.errors) await app.fleet.drained();
      return body;
    },
    routerRules() {
      const root = sim.running() as { nat?: { destination?: unknown } };
      return parseNatDestination(root.nat?.destination ?? null);
    },
    async close() {
      await app.stop();
      if (!opts.simulator) await sim.close();
      if (!opts.db) await db.drop();
    },
  };
}

/** Asserts a GraphQL response has no errors and returns its data. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

/** The single error's code. */
export function errorCode(res: GqlResponse<unknown>): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

/** Inserts an API key of `role` straight into the database and returns the secret. */
export async function createKey(t: TestApp, role: 'VIEWER' | 'OPERATOR' | 'ADMIN', extra: { expiresAt?: Date; revokedAt?: Date } = {}): Promise<string> {
  const { generateKey } = await import('../../src/domain/api-key-secret.js');
  const { ApiKey } = await import('../../src/domain/entities/index.js');
  const k = generateKey();
  const em = t.app.orm.em.fork();
  em.create(ApiKey, { name: `test ${role}`, role: role as never, prefix: k.prefix, secretHash: k.hash, ...extra });
  await em.flush();
  return k.key;
}

/** One SQL statement on the app's database, on a connection of its own (tests that look underneath the API). */
export function sql(t: TestApp, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return sqlAt(t.db.url, text, params);
}

/** One SQL statement on the database at `url`, on a connection of its own. */
export async function sqlAt(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}
