// Rate limits shared by every replica: one budget per API key (callers without a valid key: per
// client address), reads and writes apart, charged what each operation costs (query-limits.ts),
// counted in PostgreSQL so N replicas allow the rate once, not N times (docs/security.md).
//
// A bucket holds a minute's allowance and refills continuously. It is stored as one timestamp,
// the instant it is full again (the GCRA form of a token bucket): taking `cost` units moves that
// instant `cost` x 60/N seconds later, and is allowed while it stays within a minute from now.
import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode } from '../domain/errors.js';
import type { AuthInfo } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';

export type OperationKind = 'read' | 'write';

export const WINDOW_SECONDS = 60;
const WINDOW_MS = WINDOW_SECONDS * 1000;

/** The names clients see in RateLimit-Policy / RateLimit (one bucket per request). */
export type PolicyName = 'key-writes' | 'key-reads' | 'address-writes' | 'address-reads';

export interface RatePolicy {
  name: PolicyName;
  kind: OperationKind;
  /** units a minute (the bucket's size) */
  perMinute: number;
  /** where the number comes from: the key's own limit, or the server default */
  source: 'apiKey' | 'default';
  /** the bucket's row in rate_limit_bucket */
  bucket: string;
}

export interface RateDecision {
  policy: RatePolicy;
  allowed: boolean;
  /** units this request costs */
  cost: number;
  /** units left in the bucket after this request */
  remaining: number;
  /** seconds until one more unit is available; null when the bucket is full */
  nextUnitSeconds: number | null;
  /** when refused: seconds until the bucket holds `cost` units */
  retryAfterSeconds: number;
}

/** A bucket read at one instant (both from the database clock, so replicas' clocks do not matter). */
export interface BucketReading {
  allowed: boolean;
  fullAtMs: number;
  nowMs: number;
}

/** Where buckets are kept: PostgreSQL for the server, anything atomic per bucket for tests. */
export interface BucketStore {
  take(bucket: string, perMinute: number, cost: number): Promise<BucketReading>;
}

/** What a bucket holds at `nowMs` (pure). */
export function bucketState(r: Pick<BucketReading, 'fullAtMs' | 'nowMs'>, perMinute: number): { remaining: number; nextUnitSeconds: number | null } {
  const unitMs = WINDOW_MS / perMinute;
  const debt = Math.max(0, r.fullAtMs - r.nowMs);
  const remaining = Math.max(0, Math.min(perMinute, Math.floor((WINDOW_MS - debt) / unitMs + 1e-9)));
  if (remaining >= perMinute) return { remaining, nextUnitSeconds: null };
  const untilNext = debt - (WINDOW_MS - (remaining + 1) * unitMs);
  return { remaining, nextUnitSeconds: Math.max(1, Math.ceil(untilNext / 1000 - 1e-9)) };
}

/** Seconds until a bucket can pay `cost` units (pure; at least 1). */
export function waitSeconds(r: Pick<BucketReading, 'fullAtMs' | 'nowMs'>, perMinute: number, cost: number): number {
  const after = Math.max(r.fullAtMs, r.nowMs) + (cost * WINDOW_MS) / perMinute;
  return Math.max(1, Math.ceil((after - (r.nowMs + WINDOW_MS)) / 1000 - 1e-9));
}

/** Buckets in PostgreSQL (table rate_limit_bucket): one statement per request, atomic per bucket. */
export class PgBucketStore implements BucketStore {
  private takes = 0;

  constructor(private readonly orm: MikroORM, private readonly logger: Logger) {}

  async take(bucket: string, perMinute: number, cost: number): Promise<BucketReading> {
    const conn = this.orm.em.getConnection();
    const seconds = (cost * WINDOW_SECONDS) / perMinute;
    const [taken] = await conn.execute<{ full_at_ms: number; now_ms: number }[]>(
      `insert into rate_limit_bucket as b (id, full_at) values (?, statement_timestamp() + make_interval(secs => ?::float8))
       on conflict (id) do update set full_at = greatest(b.full_at, statement_timestamp()) + make_interval(secs => ?::float8)
         where greatest(b.full_at, statement_timestamp()) + make_interval(secs => ?::float8) <= statement_timestamp() + make_interval(secs => ?::float8)
       returning extract(epoch from b.full_at)::float8 * 1000 as full_at_ms, extract(epoch from statement_timestamp())::float8 * 1000 as now_ms`,
      [bucket, seconds, seconds, seconds, WINDOW_SECONDS],
    );
    if (++this.takes % 500 === 0) this.sweep();
    if (taken) return { allowed: true, fullAtMs: Number(taken.full_at_ms), nowMs: Number(taken.now_ms) };
    const [held] = await conn.execute<{ full_at_ms: number; now_ms: number }[]>(
      `select extract(epoch from full_at)::float8 * 1000 as full_at_ms, extract(epoch from statement_timestamp())::float8 * 1000 as now_ms from rate_limit_bucket where id = ?`,
      [bucket],
    );
    return { allowed: false, fullAtMs: Number(held?.full_at_ms ?? 0), nowMs: Number(held?.now_ms ?? 0) };
  }

  /** A bucket that is full again is the same as none: forget it (bounds the table under address churn). */
  private sweep(): void {
    this.orm.em
      .getConnection()
      .execute(`delete from rate_limit_bucket where full_at < statement_timestamp() - interval '1 minute'`)
      .catch((err: unknown) => this.logger.warn({ err }, 'rate limit: could not delete full buckets'));
  }
}

export interface RateLimitDefaults {
  /** per API key, and per client address for callers without a valid key; 0 = no limit */
  writesPerMinute: number;
  readsPerMinute: number;
}

export class RateLimiter {
  constructor(
    private readonly store: BucketStore,
    private readonly defaults: RateLimitDefaults,
    private readonly logger: Logger,
  ) {}

  /** The budget a request of `kind` is charged to, or null when none applies. */
  policyFor(kind: OperationKind, who: { auth: AuthInfo | null; address: string }): RatePolicy | null {
    const kinds = kind === 'write' ? 'writes' : 'reads';
    const own = who.auth?.limits?.[kind === 'write' ? 'writesPerMinute' : 'readsPerMinute'];
    const perMinute = own ?? (kind === 'write' ? this.defaults.writesPerMinute : this.defaults.readsPerMinute);
    if (perMinute <= 0) return null;
    return who.auth
      ? { name: `key-${kinds}`, kind, perMinute, source: own != null ? 'apiKey' : 'default', bucket: `k:${who.auth.keyId}:${kind}` }
      : { name: `address-${kinds}`, kind, perMinute, source: 'default', bucket: `a:${who.address}:${kind}` };
  }

  /** Whether any budget could apply to this caller (otherwise nothing needs to be measured). */
  applies(who: { auth: AuthInfo | null; address: string }): boolean {
    return this.policyFor('read', who) !== null || this.policyFor('write', who) !== null;
  }

  /**
   * Charges `cost` units to the caller's budget: the decision (allowed or not, what is left), or
   * null when no budget applies. A database that cannot count lets the request through (logged):
   * the limit protects the router, and refusing everything while PostgreSQL hiccups would not.
   */
  async take(kind: OperationKind, who: { auth: AuthInfo | null; address: string }, cost: number): Promise<RateDecision | null> {
    const policy = this.policyFor(kind, who);
    if (!policy) return null;
    if (cost > policy.perMinute) {
      // More than the whole minute's budget: it can never pass, waiting does not help.
      return { policy, allowed: false, cost, remaining: 0, nextUnitSeconds: null, retryAfterSeconds: WINDOW_SECONDS };
    }
    let reading: BucketReading;
    try {
      reading = await this.store.take(policy.bucket, policy.perMinute, cost);
    } catch (err) {
      this.logger.warn({ err, policy: policy.name }, 'rate limit: the database could not count this request; let through');
      return null;
    }
    const state = bucketState(reading, policy.perMinute);
    return {
      policy,
      allowed: reading.allowed,
      cost,
      remaining: state.remaining,
      nextUnitSeconds: state.nextUnitSeconds,
      retryAfterSeconds: reading.allowed ? 0 : waitSeconds(reading, policy.perMinute, cost),
    };
  }
}

/**
 * The IETF fields (draft-ietf-httpapi-ratelimit-headers): the policy (quota in units a minute) and
 * what is left of it; `t` is when one more unit is available (absent while the bucket is full).
 */
export function rateLimitHeaders(d: RateDecision): Record<'RateLimit-Policy' | 'RateLimit', string> {
  const name = `"${d.policy.name}"`;
  return {
    'RateLimit-Policy': `${name};q=${d.policy.perMinute};w=${WINDOW_SECONDS}`,
    RateLimit: `${name};r=${d.remaining}${d.nextUnitSeconds !== null ? `;t=${d.nextUnitSeconds}` : ''}`,
  };
}

/**
 * The refusal in the closed vocabulary: FORBIDDEN (the caller may not do this now) with
 * reason RATE_LIMITED and when to retry; HTTP adds status 429, Retry-After and the RateLimit fields.
 */
export function rateLimitedError(d: RateDecision): AppError {
  const { policy } = d;
  const whose = policy.name.startsWith('key') ? 'API key' : 'client address';
  const limit = policy.source === 'apiKey' ? `${policy.kind}sPerMinute of the API key` : policy.kind === 'write' ? 'RATE_LIMIT_WRITES_PER_MINUTE' : 'RATE_LIMIT_READS_PER_MINUTE';
  const over = d.cost > policy.perMinute ? `; this request costs ${d.cost}, more than a whole minute's allowance: make it cheaper` : `; retry in ${d.retryAfterSeconds} s`;
  return new AppError(ErrorCode.FORBIDDEN, `rate limit: at most ${policy.perMinute} ${policy.kind}s a minute per ${whose}${d.cost > 1 ? ` (this request counts as ${d.cost})` : ''}${over}`, {
    reason: 'RATE_LIMITED',
    retryAfterSeconds: d.retryAfterSeconds,
    limit,
    policy: policy.name,
    cost: d.cost,
  });
}

/** An AppError as the GraphQLError a WebSocket client receives. */
export function asGraphQLError(e: AppError): GraphQLError {
  return new GraphQLError(e.message, { extensions: { ...e.extensions, code: e.code } });
}
