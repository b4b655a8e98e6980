// Read statements PostgreSQL parses and plans once per connection. The ORM's `execute` writes
// each statement's values into its text, so PostgreSQL parses and plans every page anew: for
// the VM page that was half of PostgreSQL's time per request (docs/performance.md "Planned
// reads"). Here the same statement is a named prepared statement with its values bound. The
// connection comes from the ORM's own pool, so the pool's limits hold and an embedded database
// works the same.
import type { MikroORM } from '@mikro-orm/postgresql';
import { createHash } from 'node:crypto';

interface PgClient {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

interface PoolClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<unknown>;
}

/**
 * Distinct statements given a name: each one is kept by every pooled connection (and its server
 * process) until the connection closes, so only this many are; any further one runs unnamed
 * (still with bound values, parsed each time). Plans are bounded too (read-plans-http.ts), but
 * their filters and cursors multiply the statements.
 */
const MAX_NAMED = 256;

/** `?` placeholders (the ORM's) as PostgreSQL's `$n`; our statements have no `?` inside literals. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** duplicate_prepared_statement: one database session behind several connections (embedded PGlite) */
const DUPLICATE_PREPARED = '42P05';

export class PreparedReads {
  private readonly names = new Map<string, string>();
  /** false once the database shows its connections share one session: a name one prepared, another cannot */
  private named = true;

  constructor(private readonly orm: MikroORM) {}

  /** Runs one read statement (`?` placeholders) with its values bound; resolves to its rows. */
  async execute<T extends object>(sql: string, params: unknown[]): Promise<T> {
    const text = numberedPlaceholders(sql);
    let name = this.named ? this.names.get(text) : undefined;
    if (this.named && name === undefined && this.names.size < MAX_NAMED) {
      name = `vmapi_read_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      this.names.set(text, name);
    }
    const client = this.orm.em.getConnection().getKnex().client as unknown as PoolClient;
    const connection = await client.acquireConnection();
    try {
      try {
        return (await connection.query({ name, text, values: params })).rows as T;
      } catch (e) {
        if (name === undefined || (e as { code?: string }).code !== DUPLICATE_PREPARED) throw e;
        this.named = false;
        return (await connection.query({ text, values: params })).rows as T;
      }
    } finally {
      await client.releaseConnection(connection);
    }
  }
}
