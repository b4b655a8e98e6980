// An in-memory ChangeStore and BatchTx for unit tests of the router transaction: journal rows
// with every state they pass through, rollback records, `needs_repair`, snapshots, and a router
// lock counter. The "database" is `rows`: the port rules the database holds, by rule number;
// intentsFor (the batch's and the one recovery.ts calls on the change set's em) reads them
// through the project's own change-store `intentsFor`, against a stub EntityManager.
import type { EntityManager } from '@mikro-orm/postgresql';
import { OperationState, type Snapshot } from '../../src/domain/entities/index.js';
import type { PortRuleFacts } from '../../src/domain/rule-mapping.js';
import type { RuleIntent } from '../../src/changes/change-plan.js';
import { intentsFor, type BatchTx, type ChangeStore, type JournalRow, type RollbackRecord, type SnapshotRecord, type UnsavedState } from '../../src/changes/change-store.js';
import type { RouterCommand } from '../../src/vyos/types.js';

export interface DbRule extends PortRuleFacts {
  vm: { name: string; internalIp: string };
}

export interface JournalEntry extends JournalRow {
  inverse: RouterCommand[];
  error: string | null;
  /** every state the row was in, in order, as others could see it (a batch-transaction mark once it commits) */
  history: OperationState[];
}

type Failing = 'lockRouter' | 'begin' | 'startJournal' | 'commit';

export class MemoryStore implements ChangeStore {
  readonly router = 'memory';
  readonly journalled = true;
  readonly journal = new Map<string, JournalEntry>();
  readonly rollbacks: RollbackRecord[] = [];
  readonly needsRepair = new Set<number>();
  readonly snapshots: SnapshotRecord[] = [];
  /** the port rules the database holds */
  readonly rows = new Map<number, DbRule>();
  /** the next call of each of these throws this error (once) */
  readonly fail: Partial<Record<Failing, Error>> = {};
  readonly txs: MemoryTx[] = [];
  lockDepth = 0;
  lockCount = 0;
  /** a release called when the lock was not held */
  strayReleases = 0;
  private ids = 0;
  private readonly added = new Set<string>();
  readonly em: EntityManager;

  constructor(readonly wanInterface = 'eth0') {
    // What change-store's intentsFor asks of an EntityManager, and nothing else.
    const find = async (_entity: unknown, where: { ruleNumber: { $in: number[] } }) =>
      where.ruleNumber.$in.filter((n) => this.rows.has(n)).map((n) => {
        const { vm, ...rule } = this.rows.get(n)!;
        return { ...rule, vm: { getEntity: () => vm } };
      });
    this.em = new Proxy({ find } as object, {
      get(target, prop) {
        if (prop in target) return (target as Record<PropertyKey, unknown>)[prop];
        if (typeof prop === 'symbol' || prop === 'then') return undefined;
        throw new Error(`the stub EntityManager has no ${String(prop)}`);
      },
    }) as EntityManager;
  }

  get locked(): boolean {
    return this.lockDepth > 0;
  }

  /** Throws the failure scripted for `what`, once. */
  failing(what: Failing): void {
    const e = this.fail[what];
    if (!e) return;
    delete this.fail[what];
    throw e;
  }

  async lockRouter(): Promise<() => Promise<void>> {
    this.failing('lockRouter');
    this.lockDepth++;
    this.lockCount++;
    let held = true;
    return async () => {
      if (!held) {
        this.strayReleases++;
        return;
      }
      held = false;
      this.lockDepth--;
    };
  }

  async begin(): Promise<BatchTx> {
    this.failing('begin');
    const tx = new MemoryTx(this);
    this.txs.push(tx);
    return tx;
  }

  consistentRead<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return fn(this.em);
  }

  async startJournal(operation: string, commands: RouterCommand[], inverse: RouterCommand[], confirmDeadline: Date | null): Promise<string> {
    this.failing('startJournal');
    const id = `op-${++this.ids}`;
    this.journal.set(id, { id, operation, state: OperationState.PENDING, commands, inverse, confirmDeadline, createdAt: new Date(), error: null, history: [OperationState.PENDING] });
    return id;
  }

  /** A journal row as a dead process (or a failed undo) left it. */
  addEntry(row: Omit<JournalRow, 'id' | 'createdAt'>): JournalRow {
    const id = `op-${++this.ids}`;
    const entry: JournalEntry = { ...row, id, createdAt: new Date(), inverse: [], error: null, history: [row.state] };
    this.journal.set(id, entry);
    this.added.add(id);
    return { id, operation: row.operation, state: row.state, commands: row.commands, confirmDeadline: row.confirmDeadline, createdAt: entry.createdAt };
  }

  async markJournal(id: string, state: OperationState, error: string | null = null): Promise<void> {
    const entry = this.journal.get(id);
    if (!entry) throw new Error(`no journal row ${id}`);
    entry.state = state;
    entry.error = error;
    entry.history.push(state);
  }

  async unsettled(): Promise<JournalRow[]> {
    throw new Error('unsettled is not used by the router transaction');
  }

  async markNeedsRepair(ruleNumbers: readonly number[]): Promise<void> {
    for (const n of ruleNumbers) this.needsRepair.add(n);
  }

  /** every save outcome recorded, in order */
  readonly saves: ({ ok: true } | { ok: false; error: string })[] = [];

  async recordSave(outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    this.saves.push(outcome);
    this.saveOwedFlag = false;
  }

  async unsaved(): Promise<UnsavedState | null> {
    const last = this.saves.at(-1);
    return last && !last.ok ? { since: new Date(), error: last.error } : null;
  }

  /** a committed batch asked for a save that has not been recorded since */
  saveOwedFlag = false;

  async saveOwed(): Promise<boolean> {
    return this.saveOwedFlag;
  }

  async saveRollback(r: RollbackRecord): Promise<{ id: string; at: Date }> {
    this.rollbacks.push(r);
    return { id: `rb-${this.rollbacks.length}`, at: new Date() };
  }

  /** The state histories of the rows batches wrote (startJournal), oldest first. */
  batchRows(): OperationState[][] {
    return [...this.journal.values()].filter((e) => !this.added.has(e.id)).map((e) => e.history);
  }
}

/** The batch transaction: its writes are buffered and reach the store only on commit. */
export class MemoryTx implements BatchTx {
  state: 'open' | 'committed' | 'rolled back' | 'commit failed' = 'open';
  private pending: (() => Promise<void> | void)[] = [];

  constructor(private readonly store: MemoryStore) {}

  get em(): EntityManager {
    return this.store.em;
  }

  savepoint<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    this.assertOpen();
    return fn(this.store.em);
  }

  intentsFor(ruleNumbers: readonly number[]): Promise<RuleIntent[]> {
    return intentsFor(this.store.em, { wanInterface: this.store.wanInterface, hairpin: null, natRuleRange: { first: 1, last: 999_999 }, routerName: this.store.router }, ruleNumbers);
  }

  async journalRow(id: string): Promise<JournalRow | null> {
    const e = this.store.journal.get(id);
    return e ? { id: e.id, operation: e.operation, state: e.state, commands: e.commands, confirmDeadline: e.confirmDeadline, createdAt: e.createdAt } : null;
  }

  async markJournal(id: string, state: OperationState, error: string | null = null): Promise<void> {
    this.assertOpen();
    this.pending.push(() => this.store.markJournal(id, state, error));
  }

  async clearNeedsRepair(ruleNumbers: readonly number[]): Promise<void> {
    this.assertOpen();
    this.pending.push(() => ruleNumbers.forEach((n) => this.store.needsRepair.delete(n)));
  }

  async markSaveOwed(): Promise<void> {
    this.assertOpen();
    this.pending.push(() => void (this.store.saveOwedFlag = true));
  }

  async nextSnapshotSlot(keep: number): Promise<number> {
    return this.store.snapshots.length % keep;
  }

  async recordSnapshot(s: SnapshotRecord): Promise<Snapshot> {
    this.assertOpen();
    this.pending.push(() => void this.store.snapshots.push(s));
    return { id: `snap-${s.slot}`, ...s, createdAt: new Date() } as unknown as Snapshot;
  }

  async commit(): Promise<void> {
    this.assertOpen();
    try {
      this.store.failing('commit');
    } catch (e) {
      this.state = 'commit failed';
      throw e;
    }
    this.state = 'committed';
    for (const write of this.pending) await write();
  }

  async rollback(): Promise<void> {
    if (this.state === 'open') this.state = 'rolled back';
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new Error(`the batch transaction is ${this.state}`);
  }
}
