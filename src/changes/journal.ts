// The operations journal: one row per router batch, each state written in its own short
// transaction so a restarted process can find what a dead one left half-done.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Operation, OperationState } from '../domain/entities/index.js';
import type { RouterCommand } from '../vyos/types.js';

export interface JournalEntry {
  id: string;
}

export interface Journal {
  start(operation: string, commands: RouterCommand[], inverse: RouterCommand[], confirmDeadline: Date | null): Promise<JournalEntry>;
  mark(entry: JournalEntry, state: OperationState, extra?: { confirmDeadline?: Date | null; error?: string | null }): Promise<void>;
}

export class DatabaseJournal implements Journal {
  constructor(private readonly orm: MikroORM) {}

  async start(operation: string, commands: RouterCommand[], inverse: RouterCommand[], confirmDeadline: Date | null): Promise<JournalEntry> {
    const em = this.orm.em.fork();
    const row = em.create(Operation, { operation, state: OperationState.PENDING, commands, inverse, confirmDeadline });
    await em.flush();
    return { id: row.id };
  }

  async mark(entry: JournalEntry, state: OperationState, extra: { confirmDeadline?: Date | null; error?: string | null } = {}): Promise<void> {
    const em = this.orm.em.fork();
    await em.nativeUpdate(Operation, { id: entry.id }, { state, ...extra, updatedAt: new Date() });
  }
}

/**
 * The embedded database multiplexes one session over all connections, so a second transaction
 * waits for the open batch transaction: journalling there would deadlock. The embedded database
 * lives and dies with this process, so it keeps no journal (docs/operations.md says so).
 */
export class NoJournal implements Journal {
  async start(): Promise<JournalEntry> {
    return { id: 'none' };
  }
  async mark(): Promise<void> {}
}
