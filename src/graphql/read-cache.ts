// The read cache: the HTTP answers to repeated database-only queries, kept only for the change
// clock's current generation (change-clock.ts). An answer is stored only if no change happened
// while it was computed, and all answers are dropped when one happens, so a cached answer is never
// older than the last change this process knows of. Bounded in bytes, least recently used out first.
import { Kind, type OperationDefinitionNode } from 'graphql';
import Negotiator from 'negotiator';
import type { ChangeClock } from '../database/change-clock.js';

/**
 * Root fields answered from PostgreSQL alone, from tables whose changes move the clock (the
 * change-notification migration: vm, port_rule, rollback_event, api_key). syncReport, health and
 * snapshots read the router or the clock of the wall; apiKeys shows expiry, which changes with
 * time alone; node can answer a Snapshot, whose table notifies nobody. They are never cached.
 */
export const CACHEABLE_FIELDS: ReadonlySet<string> = new Set(['vms', 'vm', 'portRule', 'portRules', 'portOwners', 'rollbackEvents']);

/** A query selecting only cacheable root fields (fragments at the root are not worth the analysis). */
export function isCacheable(operation: OperationDefinitionNode | null | undefined): boolean {
  if (!operation || operation.operation !== 'query') return false;
  let fields = 0;
  for (const s of operation.selectionSet.selections) {
    if (s.kind !== Kind.FIELD) return false;
    if (s.name.value === '__typename') continue;
    if (!CACHEABLE_FIELDS.has(s.name.value)) return false;
    fields++;
  }
  return fields > 0;
}

/**
 * Answers depend on the request as sent (query text, operation name, variables) and the caller's
 * role (authorization), nothing else. The raw text, not a parse: the HTTP edge looks answers up
 * before anything is parsed.
 */
export function cacheKey(role: string, query: string, operationName: unknown, variables: unknown): string {
  return `${role}\n${typeof operationName === 'string' ? operationName : ''}\n${JSON.stringify(variables ?? {})}\n${query}`;
}

// Apollo's media types for a single result, in its order of preference (ApolloServer.ts).
const JSON_TYPE = 'application/json; charset=utf-8';
const ANSWER_TYPES = [JSON_TYPE, 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];

/**
 * The Content-Type Apollo answers a request with this Accept header, chosen the way Apollo does
 * (the same negotiator package); null when it would refuse with 406. The body of a successful
 * answer is the same whichever type is chosen, so one cached answer serves every client.
 */
export function answerContentType(accept: string | null | undefined): string | null {
  if (!accept) return JSON_TYPE;
  return new Negotiator({ headers: { accept } }).mediaType(ANSWER_TYPES) ?? null;
}

/**
 * `Cache-Control: no-cache` (or `no-store`, `max-age=0`) on a request asks for an answer computed
 * now, as HTTP caches understand it: for a client that wrote through another replica a moment ago.
 */
export function wantsFreshAnswer(cacheControl: string | null | undefined): boolean {
  return !!cacheControl && /(^|[\s,])(no-cache|no-store|max-age\s*=\s*0)\b/i.test(cacheControl);
}

/** RFC 9111 §5.2.1.5: a request's `no-store` asks that nothing of it or its answer be kept. */
export function forbidsStoring(cacheControl: string | null | undefined): boolean {
  return !!cacheControl && /(^|[\s,])no-store\b/i.test(cacheControl);
}

/** The HTTP body of a successful answer, byte for byte as Apollo writes it. */
export function answerBody(data: Record<string, unknown>): string {
  return `${JSON.stringify({ data })}\n`;
}

export interface CachedAnswer {
  /** the response body */
  body: string;
  /** the operation's metric label (graphql-plugin.ts) */
  operation: string;
}

interface Entry extends CachedAnswer {
  bytes: number;
}

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface ReadCacheStats {
  /** READ_CACHE_MAX_BYTES (0 = off) */
  maxBytes: number;
  entries: number;
  bytes: number;
  /** whether the cache may answer: it is on and every change reaches the clock (the change feed listens) */
  fresh: boolean;
}

export class ReadCache {
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recent.
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly clock: ChangeClock,
    readonly maxBytes: number,
  ) {
    clock.onTick(() => this.clear());
  }

  /** Off (READ_CACHE=off or no room) or not vouched for by the change feed: every read computes. */
  get active(): boolean {
    return this.maxBytes > 0 && this.clock.fresh;
  }

  /** The generation a computation starts in; pass it back to `set`. */
  get generation(): number {
    return this.clock.generation;
  }

  get(key: string): CachedAnswer | undefined {
    if (!this.active) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** Keeps an answer computed in `generation`, unless the data may have changed since. */
  set(key: string, generation: number, answer: CachedAnswer): void {
    if (!this.active || generation !== this.clock.generation) return;
    // Strings of one-byte characters: about their length in heap bytes.
    const bytes = key.length + answer.body.length;
    if (bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { ...answer, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  stats(): ReadCacheStats {
    return { maxBytes: this.maxBytes, entries: this.entries.size, bytes: this.bytes, fresh: this.active };
  }
}
