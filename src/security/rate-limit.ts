// Rate limits: token buckets per API key and per client address, reads and writes apart.
// In memory, per process: N replicas allow N times the rate (docs/security.md says so).
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode } from '../domain/errors.js';

export type OperationKind = 'read' | 'write';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets of `perMinute` tokens that refill continuously; a full minute's budget may burst. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private takes = 0;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxBuckets = 100_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Milliseconds until `id` has a token (0 = now), without taking it. */
  waitMs(id: string): number {
    const b = this.refill(id);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / this.perMs);
  }

  take(id: string): void {
    this.refill(id).tokens -= 1;
    if (++this.takes % 1000 === 0 || this.buckets.size > this.maxBuckets) this.sweep();
  }

  private refill(id: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(id);
    if (!b) {
      b = { tokens: this.perMinute, at: t };
      this.buckets.set(id, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    return b;
  }

  /** A full bucket is the same as no bucket: forget it (bounds memory under address churn). */
  private sweep(): void {
    const t = this.now();
    for (const [id, b] of this.buckets) {
      if (b.tokens + (t - b.at) * this.perMs >= this.perMinute) this.buckets.delete(id);
    }
  }
}

export interface RateLimitRefusal {
  kind: OperationKind;
  retryAfterSeconds: number;
  /** which budget ran out */
  scope: 'key' | 'address';
  limitPerMinute: number;
}

export class RateLimiter {
  private readonly buckets: Record<OperationKind, TokenBuckets | null>;

  constructor(limits: { writesPerMinute: number; readsPerMinute: number }, now: () => number = Date.now) {
    this.buckets = {
      write: limits.writesPerMinute > 0 ? new TokenBuckets(limits.writesPerMinute, now) : null,
      read: limits.readsPerMinute > 0 ? new TokenBuckets(limits.readsPerMinute, now) : null,
    };
  }

  /** Takes one token from the key's and the address's bucket, or refuses (taking none). */
  take(kind: OperationKind, who: { keyId: string | null; address: string }): RateLimitRefusal | null {
    const buckets = this.buckets[kind];
    if (!buckets) return null;
    const ids: [RateLimitRefusal['scope'], string][] = [['address', `a:${who.address}`]];
    if (who.keyId) ids.unshift(['key', `k:${who.keyId}`]);
    for (const [scope, id] of ids) {
      const wait = buckets.waitMs(id);
      if (wait > 0) return { kind, scope, retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)), limitPerMinute: buckets.perMinute };
    }
    for (const [, id] of ids) buckets.take(id);
    return null;
  }
}

/**
 * The refusal in the closed vocabulary: FORBIDDEN (the caller may not do this now) with
 * reason RATE_LIMITED and when to retry; HTTP adds status 429 and Retry-After.
 */
export function rateLimitedError(r: RateLimitRefusal): AppError {
  return new AppError(
    ErrorCode.FORBIDDEN,
    `rate limit: at most ${r.limitPerMinute} ${r.kind}s a minute per ${r.scope === 'key' ? 'API key' : 'client address'}; retry in ${r.retryAfterSeconds} s`,
    { reason: 'RATE_LIMITED', retryAfterSeconds: r.retryAfterSeconds, limit: r.kind === 'write' ? 'RATE_LIMIT_WRITES_PER_MINUTE' : 'RATE_LIMIT_READS_PER_MINUTE' },
  );
}

/** An AppError as the GraphQLError a WebSocket client receives. */
export function asGraphQLError(e: AppError): GraphQLError {
  return new GraphQLError(e.message, { extensions: { ...e.extensions, code: e.code } });
}
