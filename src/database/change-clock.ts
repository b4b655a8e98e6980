// The change clock: a number that moves whenever data a cached read could show may have changed.
// Caches (read-cache.ts, the API-key cache) keep an answer only for the generation it was computed
// in. Two things move the clock: this process's own writes, synchronously, after they commit
// (so a client reads its own writes), and other processes' commits, as PostgreSQL notifies them
// (change-feed.ts). While the feed is not known to be working, the clock is not "fresh" and the
// caches step aside: every read goes to PostgreSQL.
import type { MikroORM } from '@mikro-orm/postgresql';

export class ChangeClock {
  private gen = 0;
  private readonly listeners = new Set<() => void>();

  /** @param trusted whether every change reaches this clock (false until a change feed is listening) */
  constructor(private trusted: boolean) {}

  get generation(): number {
    return this.gen;
  }

  /** Caches may answer only while every change that could matter reaches this clock. */
  get fresh(): boolean {
    return this.trusted;
  }

  tick(): void {
    this.gen++;
    for (const l of this.listeners) l();
  }

  /** Either way the clock ticks: what was cached before a gap in the feed can't be vouched for. */
  setTrusted(trusted: boolean): void {
    if (this.trusted === trusted) return;
    this.trusted = trusted;
    this.tick();
  }

  onTick(listener: () => void): void {
    this.listeners.add(listener);
  }
}

// Statements that cannot change rows. Anything else (insert, update, delete, with ..., copy, a
// commit) ticks: ticking too often costs a cache miss, too seldom a stale read.
const READ_ONLY = /^\s*(select|show)\b/i;

export function changesData(sql: string): boolean {
  return !READ_ONLY.test(sql);
}

/**
 * Ticks the clock after each of this process's writes completes and after each transaction
 * commits. Knex reports a COMMIT before it has run, so commits are taken from MikroORM's
 * afterTransactionCommit instead.
 */
export function watchLocalWrites(orm: MikroORM, clock: ChangeClock): void {
  orm.em
    .getConnection()
    .getKnex()
    .on('query-response', (_response: unknown, query: { sql?: string }) => {
      if (changesData(query.sql ?? '')) clock.tick();
    });
  orm.em.getEventManager().registerSubscriber({ afterTransactionCommit: () => clock.tick() });
}
