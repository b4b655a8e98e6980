// Deep health: database, router and background job, for GET /health and the GraphQL `health`
// query (one implementation, two views); readiness (GET /ready): the database alone.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Field, Float, ObjectType, registerEnumType } from 'type-graphql';
import type { RouterApi, RouterCapabilities } from '../vyos/types.js';
import { PoolCapacity } from './capacity.js';

// Lower-case values: the wire strings stay what they were when `status` was a String (and what GET /health says).
export enum HealthStatus {
  ok = 'ok',
  degraded = 'degraded',
  down = 'down',
}
registerEnumType(HealthStatus, {
  name: 'HealthStatus',
  description: 'How usable a dependency (or the whole server) is.',
  valuesConfig: {
    ok: { description: 'Working.' },
    degraded: { description: 'Usable, with a warning (see `detail`).' },
    down: { description: 'Not usable.' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'The state of one dependency.' })
export class ComponentHealth {
  @Field(() => HealthStatus, { description: '`ok`, `degraded` (usable, with a warning) or `down`.' })
  status!: 'ok' | 'degraded' | 'down';

  @Field(() => Float, { nullable: true, description: 'How long the check took, in milliseconds.' })
  latencyMs?: number | null;

  @Field(() => String, { nullable: true, description: 'Why it is not ok, or what was found.' })
  detail?: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'Whether the server can do its job.' })
export class Health {
  @Field(() => HealthStatus, { description: '`ok`, `degraded` or `down` (down when the database is down, or every router).' })
  status!: 'ok' | 'degraded' | 'down';

  @Field(() => ComponentHealth, { description: 'PostgreSQL: a query round trip and the connection pool.' })
  database!: ComponentHealth;

  @Field(() => ComponentHealth, { description: 'The VyOS HTTP API: its version and capabilities and a read of the NAT configuration.' })
  router!: ComponentHealth;

  @Field(() => ComponentHealth, { description: 'The background drift check (syncReport on SYNC_INTERVAL_SECONDS).' })
  background!: ComponentHealth;

  @Field(() => ComponentHealth, {
    description:
      "VYOS_FIREWALL=check: whether the router's forward filter lets the port rules' traffic through, as the last syncReport found (degraded while it drops traffic to one). No extra router read.",
  })
  firewall!: ComponentHealth;

  @Field(() => [PoolCapacity], {
    nullable: true,
    description: 'How full each pool the server allocates from is (rule numbers, external ports per transport, LAN addresses); null when the database cannot be counted. Does not change `status`: the capacity alerts watch it (docs/monitoring.md#capacity).',
  })
  capacity?: PoolCapacity[] | null;

  @Field(() => [RouterHealth], { description: 'Every router this server drives, the environment\'s first (the fields above are its). One router down makes `status` degraded; all of them down makes it down.' })
  routers!: RouterHealth[];
}

@ObjectType({ simpleResolvers: true, description: 'One router of the fleet: its API, its drift check, its firewall and its pools.' })
export class RouterHealth {
  @Field({ description: 'The router\'s name (`routers`).' })
  name!: string;

  @Field(() => HealthStatus, { description: '`down` when its API does not answer, `degraded` with a warning, else `ok`.' })
  status!: 'ok' | 'degraded' | 'down';

  @Field(() => ComponentHealth, { description: 'Its VyOS HTTP API.' })
  router!: ComponentHealth;

  @Field(() => ComponentHealth, { description: 'Its background drift check.' })
  background!: ComponentHealth;

  @Field(() => ComponentHealth, { description: 'Its forward filter, as its last syncReport found (VYOS_FIREWALL=check).' })
  firewall!: ComponentHealth;

  @Field(() => [PoolCapacity], { nullable: true, description: 'How full its pools are; null when the database cannot be counted.' })
  capacity?: PoolCapacity[] | null;
}

/**
 * What the background sync job tells /metrics about its runs (a subset of the drift module's
 * SyncJobStatus, so this module does not depend on it).
 */
export interface BackgroundJobStatus {
  /** when the last run finished, successful or not; null before the first */
  lastRunAt: Date | null;
  /** when the last run that did its job finished (a standby replica's run counts); null before the first */
  lastSuccessAt: Date | null;
  /** drift items by DriftKind from the last report this replica took */
  counts: Readonly<Record<string, number>>;
  /** this replica holds the sync lock */
  leader?: boolean;
  consecutiveFailures?: number;
}

/**
 * What the background sync job reports about itself: `check()` for /health, `status()` for
 * /metrics. Registered as `HealthDeps.background`.
 */
export interface BackgroundStatus {
  check(): ComponentHealth;
  status?(): BackgroundJobStatus;
}

/** What one router's health is read from. */
export interface RouterHealthDeps {
  name: string;
  router: RouterApi;
  simulator: boolean;
  background?: BackgroundStatus;
  /** whether the router's running config is saved (null: saved) */
  unsaved?: () => Promise<{ since: Date; error: string | null } | null>;
  /** the pools' capacity (observability/capacity.ts) */
  capacity?: () => Promise<PoolCapacity[]>;
  /** the last firewall check (drift/firewall-check.ts FirewallWatch) */
  firewall?: () => { status: 'ok' | 'degraded'; detail: string };
}

export interface HealthDeps {
  orm: MikroORM;
  /** every router this process drives; the first is the environment's (the top-level fields) */
  routers: () => readonly RouterHealthDeps[];
  timeoutMs?: number;
}

/** A check's finding: `warning` makes the component degraded (usable, with a warning). */
interface Finding {
  detail: string | null;
  warning?: boolean;
}

async function timed(fn: () => Promise<Finding>, timeoutMs: number): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: found.warning ? 'degraded' : 'ok', latencyMs: round(performance.now() - started), detail: found.detail };
  } catch (e) {
    return { status: 'down', latencyMs: round(performance.now() - started), detail: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The knex (tarn) pool's counters, as far as health reads them. */
interface PoolState {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** "pool 1 used, 2 idle, 0 waiting (max 10)", or null when the pool cannot be read. */
export function describePool(orm: MikroORM): string | null {
  try {
    const pool = (orm.em.getConnection().getKnex() as { client?: { pool?: PoolState } }).client?.pool;
    if (!pool) return null;
    return `pool ${pool.numUsed()} used, ${pool.numFree()} idle, ${pool.numPendingAcquires()} waiting (max ${pool.max})`;
  } catch {
    return null;
  }
}

async function checkDatabase(orm: MikroORM): Promise<Finding> {
  await orm.em.fork().execute('select 1');
  return { detail: describePool(orm) };
}

/** How the server commits on this router, and why (docs/operations.md, "VyOS generations"). */
function commitPath(caps: RouterCapabilities): string {
  const basis = { probe: 'probed', setting: 'VYOS_COMMIT_CONFIRM', unsure: 'not known yet: the probe decided nothing, plain commits until it does' }[caps.commitConfirmBasis];
  const order = caps.confirmOrder === 'unknown' ? '' : `, ${caps.confirmOrder === 'arm-first' ? 'arms the timer before it commits' : 'commits before it arms the timer'}`;
  return caps.commitConfirm ? `commit-confirm (${basis}${order})` : `plain commit, undo by inverse commands (${basis})`;
}

async function checkRouter(router: RouterApi, simulator: boolean, unsaved: RouterHealthDeps['unsaved']): Promise<Finding> {
  const caps = await router.capabilities();
  // A real round trip every time (capabilities are cached after the first detection).
  await router.exists(['nat']);
  const facts = [`version ${caps.version}, ${commitPath(caps)}`];
  const warnings: string[] = [];
  if (caps.commitConfirmBasis === 'unsure') warnings.push('could not tell whether the router has commit-confirm');
  // The database's own trouble is the database check's to report, not the router's.
  const notSaved = await unsaved?.().catch(() => null);
  if (notSaved) warnings.push(`changes since ${notSaved.since.toISOString()} are not saved to the boot config (a reboot would lose them; the save is retried): ${notSaved.error ?? 'save failed'}`);
  if (caps.commitConfirm) {
    const cm = (await router.showConfig(['system', 'config-management']).catch(() => null)) as { 'commit-confirm'?: { action?: string } } | null;
    if (cm?.['commit-confirm']?.action !== 'reload') {
      warnings.push('system config-management commit-confirm action is not "reload": an unconfirmed commit reboots the router');
    }
  }
  if (simulator) warnings.push('using the built-in router SIMULATOR, not a real router (set VYOS_URL)');
  return { detail: [...facts, ...warnings].join('; '), warning: warnings.length > 0 };
}

/** One router's health (a real round trip to its API). */
export async function checkOneRouter(deps: RouterHealthDeps, timeoutMs = 5000): Promise<RouterHealth> {
  const [router, capacity] = await Promise.all([timed(() => checkRouter(deps.router, deps.simulator, deps.unsaved), timeoutMs), readCapacity(deps.capacity, timeoutMs)]);
  let background: ComponentHealth;
  try {
    background = deps.background?.check() ?? { status: 'ok', detail: 'no background job configured' };
  } catch (e) {
    background = { status: 'degraded', detail: `the background job could not report: ${e instanceof Error ? e.message : String(e)}` };
  }
  const firewall: ComponentHealth = deps.firewall?.() ?? { status: 'ok', detail: 'not checked' };
  const status = router.status === 'down' ? 'down' : [background, firewall].some((c) => c.status !== 'ok') ? 'degraded' : router.status;
  return { name: deps.name, status, router, background, firewall, capacity };
}

export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const timeoutMs = deps.timeoutMs ?? 5000;
  const [database, routers] = await Promise.all([timed(() => checkDatabase(deps.orm), timeoutMs), Promise.all(deps.routers().map((r) => checkOneRouter(r, timeoutMs)))]);
  const [first] = routers;
  const none: ComponentHealth = { status: 'down', detail: 'no router is driven by this process' };
  const allDown = routers.every((r) => r.status === 'down');
  const status = database.status === 'down' || allDown ? 'down' : database.status !== 'ok' || routers.some((r) => r.status !== 'ok') ? 'degraded' : 'ok';
  return { status, database, router: first?.router ?? none, background: first?.background ?? none, firewall: first?.firewall ?? none, capacity: first?.capacity ?? null, routers };
}

/** The capacity, or null when it cannot be counted in time (the database check says why). */
async function readCapacity(read: RouterHealthDeps['capacity'], timeoutMs: number): Promise<PoolCapacity[] | null> {
  if (!read) return null;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([read(), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** /ready answers within this: below the 3 s readiness probe timeout docs/deploy.md recommends. */
export const READY_TIMEOUT_MS = 2000;

/**
 * Readiness: what this replica needs to serve, its database, and nothing else. The router is not
 * asked: reads work without it, and a router outage must not take every replica out of service.
 */
export function checkReadiness(orm: MikroORM, timeoutMs = READY_TIMEOUT_MS): Promise<ComponentHealth> {
  return timed(() => checkDatabase(orm), timeoutMs);
}
