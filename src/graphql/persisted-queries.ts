// Automatic persisted queries (Apollo's APQ protocol): the store of registered documents, one
// per process. The HTTP guard reads it too, so a mutation sent as a bare hash is still counted
// as a write by the rate limiter.

/** Apollo prefixes every key it stores in a persisted-query cache with this. */
const APQ_PREFIX = 'apq:';

/**
 * A bounded in-memory KeyValueCache for Apollo's `persistedQueries.cache`: least recently used
 * documents go first once their total size passes `maxBytes`. Per process: with several replicas
 * a client meets PERSISTED_QUERY_NOT_FOUND once per replica, resends the full query, and goes on.
 */
export class PersistedQueryStore {
  private readonly entries = new Map<string, string>();
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  async get(key: string): Promise<string | undefined> {
    return this.read(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.remove(key);
    if (value.length > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [oldest, text] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= text.length;
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.remove(key);
  }

  /** The document registered under a client's sha256 hash, if this process knows it. */
  documentFor(sha256Hash: string): string | undefined {
    return this.read(APQ_PREFIX + sha256Hash);
  }

  get size(): number {
    return this.entries.size;
  }

  private read(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Map order is the eviction order: a hit moves the entry to the young end.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  private remove(key: string): boolean {
    const value = this.entries.get(key);
    if (value === undefined) return false;
    this.entries.delete(key);
    this.bytes -= value.length;
    return true;
  }
}

/** The sha256 hash of a request's `extensions.persistedQuery` (a JSON string in a GET's query string). */
export function persistedQueryHash(extensions: unknown): string | undefined {
  let value = extensions;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  const hash = (value as { persistedQuery?: { sha256Hash?: unknown } } | null)?.persistedQuery?.sha256Hash;
  return typeof hash === 'string' ? hash : undefined;
}
