// Deep health: database, router and background job, for GET /health, GET /ready and the
// GraphQL `health` query (one implementation, three views).
import type { MikroORM } from '@mikro-orm/postgresql';
import { Field, Float, ObjectType } from 'type-graphql';
import type { RouterApi } from '../vyos/types.js';

@ObjectType({ description: 'The state of one dependency.' })
export class ComponentHealth {
  @Field({ description: '`ok`, `degraded` (usable, with a warning) or `down`.' })
  status!: 'ok' | 'degraded' | 'down';

  @Field(() => Float, { nullable: true, description: 'How long the check took, in milliseconds.' })
  latencyMs?: number | null;

  @Field(() => String, { nullable: true, description: 'Why it is not ok, or what was found.' })
  detail?: string | null;
}

@ObjectType({ description: 'Whether the server can do its job.' })
export class Health {
  @Field({ description: '`ok`, `degraded` or `down` (down when the database or the router is down).' })
  status!: 'ok' | 'degraded' | 'down';

  @Field(() => ComponentHealth)
  database!: ComponentHealth;

  @Field(() => ComponentHealth)
  router!: ComponentHealth;

  @Field(() => ComponentHealth)
  background!: ComponentHealth;
}

/** What the background sync job reports about itself. */
export interface BackgroundStatus {
  check(): ComponentHealth;
}

export interface HealthDeps {
  orm: MikroORM;
  router: RouterApi;
  simulator: boolean;
  background?: BackgroundStatus;
  timeoutMs?: number;
}

async function timed(fn: () => Promise<string | null>, timeoutMs: number): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: detail ? 'degraded' : 'ok', latencyMs: round(performance.now() - started), detail };
  } catch (e) {
    return { status: 'down', latencyMs: round(performance.now() - started), detail: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const timeoutMs = deps.timeoutMs ?? 5000;
  const [database, router] = await Promise.all([
    timed(async () => {
      await deps.orm.em.fork().execute('select 1');
      return null;
    }, timeoutMs),
    timed(async () => {
      const caps = await deps.router.capabilities();
      await deps.router.exists(['nat']);
      const warnings = [`version ${caps.version}, commit-confirm ${caps.commitConfirm ? 'available' : 'not available'}`];
      if (caps.commitConfirm) {
        const cm = (await deps.router.showConfig(['system', 'config-management']).catch(() => null)) as
          | { 'commit-confirm'?: { action?: string } }
          | null;
        if (cm?.['commit-confirm']?.action !== 'reload') {
          warnings.push('system config-management commit-confirm action is not "reload": an unconfirmed commit reboots the router');
        }
      }
      if (deps.simulator) warnings.push('using the built-in router SIMULATOR, not a real router (set VYOS_URL)');
      return warnings.length > 1 ? warnings.join('; ') : null;
    }, timeoutMs),
  ]);
  const background = deps.background?.check() ?? { status: 'ok' as const, detail: 'no background job configured' };
  const status = database.status === 'down' || router.status === 'down' ? 'down' : [database, router, background].some((c) => c.status !== 'ok') ? 'degraded' : 'ok';
  return { status, database, router, background };
}
