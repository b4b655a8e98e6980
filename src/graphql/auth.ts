import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { ChangeClock } from '../database/change-clock.js';
import type { Logger } from '../observability/logger.js';
import type { AuthChecker } from 'type-graphql';
import { ApiKey, Role, roleAllows } from '../domain/entities/index.js';
import { forbidden, unauthenticated } from '../domain/errors.js';
import { generateKey, hashKey, prefixOf, sameHash } from '../domain/api-key-secret.js';
import type { AuthInfo, GraphQLContext } from './context.js';

/** The key from `Authorization: Bearer <key>`, `X-API-Key`, or a WebSocket connectionParams value. */
export function keyFromHeaders(authorization: unknown, apiKeyHeader: unknown): string | null {
  if (typeof authorization === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    if (m) return m[1];
    if (authorization.trim() && !/\s/.test(authorization.trim())) return authorization.trim();
  }
  if (typeof apiKeyHeader === 'string' && apiKeyHeader.trim()) return apiKeyHeader.trim();
  return null;
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  secret_hash: string;
  revoked: boolean;
  expires_at: string | null;
  writes_per_minute: number | null;
  reads_per_minute: number | null;
}

const MAX_CACHED_KEYS = 10_000;

/**
 * Key rows by prefix for the change clock's current generation (change-clock.ts): api_key is one
 * of the tables whose changes tick it, so a key revoked or re-roled anywhere is looked up afresh
 * from the next request on. Only rows that exist are kept: unknown keys cost a query each time.
 */
export class KeyCache {
  private readonly rows = new Map<string, KeyRow>();

  constructor(private readonly clock: ChangeClock) {
    clock.onTick(() => this.rows.clear());
  }

  get(prefix: string): KeyRow | undefined {
    if (!this.clock.fresh) return undefined;
    return this.rows.get(prefix);
  }

  get generation(): number {
    return this.clock.generation;
  }

  set(prefix: string, generation: number, row: KeyRow): void {
    if (!this.clock.fresh || generation !== this.clock.generation) return;
    if (this.rows.size >= MAX_CACHED_KEYS) this.rows.clear();
    this.rows.set(prefix, row);
  }
}

/**
 * Why a presented key was refused. A key is only called expired or revoked when its secret
 * matched: a wrong secret for a real prefix reads UNKNOWN, so the reason tells nothing to
 * someone who does not hold the key.
 */
export type KeyRefusal = 'MISSING' | 'UNKNOWN' | 'EXPIRED' | 'REVOKED';

export type KeyCheck = { auth: AuthInfo; refusal: null } | { auth: null; refusal: KeyRefusal };

/** Looks a presented key up: its AuthInfo, or why it was refused. `em` is called only when the row has to be read: a cached key needs no unit of work. */
export async function checkKey(em: () => EntityManager, key: string | null, cache?: KeyCache): Promise<KeyCheck> {
  if (!key) return { auth: null, refusal: 'MISSING' };
  if (key.length > 256) return { auth: null, refusal: 'UNKNOWN' };
  const prefix = prefixOf(key);
  let row = cache?.get(prefix);
  if (!row) {
    const generation = cache?.generation ?? 0;
    // Every uncached request does this: a plain row, no managed entity.
    [row] = await em().execute<KeyRow[]>('select id, name, role, secret_hash, revoked_at is not null as revoked, expires_at, writes_per_minute, reads_per_minute from api_key where prefix = ?', [prefix]);
    if (row) cache?.set(prefix, generation, row);
  }
  if (!row || !sameHash(row.secret_hash, hashKey(key))) return { auth: null, refusal: 'UNKNOWN' };
  if (row.revoked) return { auth: null, refusal: 'REVOKED' };
  // Expiry is a matter of time alone, so it is checked on every use, cached row or not.
  if (row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now()) return { auth: null, refusal: 'EXPIRED' };
  return { auth: { keyId: row.id, name: row.name, role: row.role, limits: { writesPerMinute: row.writes_per_minute, readsPerMinute: row.reads_per_minute } }, refusal: null };
}

/** Looks a presented key up; null for missing, unknown, revoked or expired keys. */
export async function resolveKey(em: () => EntityManager, key: string | null, cache?: KeyCache): Promise<AuthInfo | null> {
  return (await checkKey(em, key, cache)).auth;
}

/** Makes sure a key exists for `ADMIN_API_KEY` (idempotent across restarts and replicas). */
export async function seedAdminKey(em: EntityManager, key: string): Promise<void> {
  const prefix = prefixOf(key);
  await em.execute(
    `insert into api_key (id, name, role, prefix, secret_hash, created_at) values (gen_random_uuid(), 'admin (ADMIN_API_KEY)', 'ADMIN', ?, ?, now())
     on conflict (prefix) do update set secret_hash = excluded.secret_hash, revoked_at = null, role = 'ADMIN'`,
    [prefix, hashKey(key)],
  );
}

/** `@Authorized(role)`: no key -> UNAUTHENTICATED, too weak a role -> FORBIDDEN. */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context }, roles) => {
  if (!context.auth) throw unauthenticated();
  const needed = roles[0] ?? Role.VIEWER;
  if (!roleAllows(context.auth.role, needed)) throw forbidden(needed);
  return true;
};

/**
 * First run without ADMIN_API_KEY and with no keys at all: make an admin key and write it to a
 * file only the owner can read (never to the log), so a newcomer can make the first call.
 */
export async function createFirstRunKey(orm: MikroORM, config: Config, logger: Logger): Promise<void> {
  const em = orm.em.fork();
  if ((await em.count(ApiKey, {})) > 0) return;
  const k = generateKey();
  em.create(ApiKey, { name: 'first-run admin', role: Role.ADMIN, prefix: k.prefix, secretHash: k.hash });
  await em.flush();
  const file = path.resolve(config.dataDir, 'admin-api-key');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${k.key}\n`, { mode: 0o600 });
  logger.warn({ file }, 'no API keys existed: created an ADMIN key and wrote it to this file (read it, store it safely, delete the file)');
}
