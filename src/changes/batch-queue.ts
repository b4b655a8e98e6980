// The batch queue: change sets that arrive while a batch is in flight share the next one (one
// router commit, one confirm, one database commit for all of them). A batch the router refused
// as a whole is split, so only the offender fails.
import type { ChangeSet } from './change-set.js';
import type { BatchOutcome, Member } from './transaction.js';

export interface BatchReport {
  changeSets: number;
  commands: number;
  outcome: BatchOutcome;
  durationMs: number;
  /** a journal entry of this batch still owes an undo */
  unsettled: boolean;
}

export interface BatchQueueOptions {
  /** how long the first arrival waits for company */
  windowMs: number;
  /** change sets per batch at most */
  max: number;
  run(members: Member[]): Promise<{ outcome: BatchOutcome; commands: number; unsettled: boolean }>;
  onBatch?(report: BatchReport): void;
}

export class BatchQueue {
  private queue: Member[] = [];
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(private readonly opts: BatchQueueOptions) {}

  submit<T>(set: ChangeSet<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ set: set as ChangeSet<unknown>, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Resolves when no batch is running or queued (shutdown, tests). */
  async drained(): Promise<void> {
    await this.idle;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    // A short window lets requests that arrive together share the first batch too.
    setTimeout(() => void this.drain(), this.opts.windowMs);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.runBatch(this.next());
    } finally {
      this.draining = false;
      this.markIdle();
      if (this.queue.length > 0) this.kick();
    }
  }

  /** The next batch: an isolated change set goes alone; the others go together, in order. */
  private next(): Member[] {
    if (this.queue[0].set.isolated) return this.queue.splice(0, 1);
    const batch: Member[] = [];
    while (batch.length < this.opts.max && this.queue.length > 0 && !this.queue[0].set.isolated) batch.push(this.queue.shift()!);
    return batch;
  }

  private async runBatch(members: Member[]): Promise<void> {
    const started = Date.now();
    const result = await this.opts.run(members);
    if (result.outcome === 'split') for (const m of members) await this.runBatch([m]);
    this.opts.onBatch?.({ changeSets: members.length, ...result, durationMs: Date.now() - started });
  }
}
