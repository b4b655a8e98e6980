// The one place that changes the router (design.md "The heart"): change sets queue into batches
// (batch-queue.ts), each batch runs through the stage table (transaction.ts) over the router and
// the change store, and journal entries whose undo is still owed are resumed until router and
// database agree.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { RouterApi } from '../vyos/types.js';
import { BackoffRetry } from './backoff-retry.js';
import { BatchQueue, type BatchReport } from './batch-queue.js';
import type { ChangeSet } from './change-set.js';
import type { ChangeStore, JournalRow } from './change-store.js';
import type { EventBus } from './event-bus.js';
import type { RollbackEventPayload } from './events.js';
import { resumeEntry } from './recovery.js';
import { RollbackRecorder } from './rollback-recorder.js';
import { RouterPicture } from './router-picture.js';
import { RouterTransaction, type TransactionHooks } from './transaction.js';

/** Observers for metrics; the coordinator does not know Prometheus. */
export interface CoordinatorHooks extends TransactionHooks {
  batch?(e: Omit<BatchReport, 'unsettled'>): void;
  rollback?(e: RollbackEventPayload): void;
}

export interface CoordinatorDeps {
  router: RouterApi;
  store: ChangeStore;
  config: Config;
  logger: Logger;
  events: EventBus;
  hooks?: CoordinatorHooks;
  /** the first pause before resuming an entry whose undo is owed (doubles up to a minute) */
  resumeDelayMs?: number;
}

export class Coordinator {
  /** the router's rules as last seen: batches read only what they touch (router-picture.ts) */
  readonly picture: RouterPicture;
  private readonly queue: BatchQueue;
  private readonly resuming = new Set<string>();
  /** owed undos: 1 s doubling to a minute */
  private readonly resumes: BackoffRetry;
  /** an owed save: 5 s doubling to 5 minutes */
  private readonly saves: BackoffRetry;

  constructor(private readonly deps: CoordinatorDeps) {
    this.resumes = new BackoffRetry({
      firstMs: deps.resumeDelayMs ?? 1000,
      maxMs: 60_000,
      attempt: () => this.resumeUnsettled(),
      onError: (e) => deps.logger.error({ err: e }, 'resuming journal entries failed'),
    });
    this.saves = new BackoffRetry({
      firstMs: 5000,
      maxMs: 300_000,
      attempt: () => this.saveNow(),
      onError: (e) => deps.logger.warn({ err: e }, 'the save retry could not run; trying again later'),
    });
    const recorder = new RollbackRecorder({ store: deps.store, events: deps.events, logger: deps.logger, onRecorded: deps.hooks?.rollback });
    const hooks: TransactionHooks = {
      busyWait: (e) => deps.hooks?.busyWait?.(e),
      saved: (e) => {
        deps.hooks?.saved?.(e);
        if (e.ok) this.saves.reset();
        else this.saves.schedule();
      },
    };
    this.picture = new RouterPicture({ wanInterface: deps.config.wanInterface, maxAgeMs: pictureMaxAgeMs(deps.config) });
    const transaction = new RouterTransaction({ router: deps.router, picture: this.picture, store: deps.store, recorder, config: deps.config, logger: deps.logger, hooks });
    this.queue = new BatchQueue({
      windowMs: deps.config.batchWindowMs,
      max: deps.config.batchMax,
      logger: deps.logger,
      run: (members) => transaction.run(members),
      onBatch: ({ unsettled, ...report }) => {
        deps.hooks?.batch?.(report);
        if (unsettled) this.scheduleResume();
      },
    });
  }

  submit<T>(set: ChangeSet<T>): Promise<T> {
    return this.queue.submit(set);
  }

  /** Resolves when no batch is running or queued (shutdown, tests). */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  /** `fn` in a read-only transaction under the router lock, with no batch in flight (syncReport). */
  consistentRead<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.deps.store.consistentRead(fn);
  }

  /**
   * Resumes every unsettled journal entry (left by a dead process, or an undo still owed) through
   * the runner. Resolves with the entries it settled; the rest are tried again with back-off.
   */
  async resumeUnsettled(): Promise<JournalRow[]> {
    const rows = (await this.deps.store.unsettled()).filter((r) => !this.resuming.has(r.id));
    if (rows.length === 0) return [];
    this.deps.logger.warn({ operations: rows.map((o) => ({ id: o.id, operation: o.operation, state: o.state })) }, 'resuming journal entries whose outcome is not settled');
    const settled: JournalRow[] = [];
    await Promise.all(
      rows.map(async (row) => {
        this.resuming.add(row.id);
        try {
          if (await this.submit(resumeEntry(row))) settled.push(row);
        } catch (e) {
          this.deps.logger.warn({ err: e, operationId: row.id }, 'could not settle a journal entry yet; trying again later');
        } finally {
          this.resuming.delete(row.id);
        }
      }),
    );
    if ((await this.deps.store.unsettled()).length > 0) this.scheduleResume();
    else this.resumes.reset();
    return settled;
  }

  /**
   * Everything owed to the router: unsettled journal entries, and a save when the running config
   * is not saved (a failed save of any replica) or a committed batch's save is still owed (a
   * process stopped between its answer and its save). The background sync job calls it on every run.
   */
  async catchUp(): Promise<void> {
    await this.resumeUnsettled();
    if (this.deps.config.vyosSave && ((await this.deps.store.unsaved()) || (await this.deps.store.saveOwed()))) await this.saveNow();
  }

  /** A save of the running config through the runner (its save stage), with nothing else sent. */
  saveNow(): Promise<null> {
    return this.submit({ operation: 'save', save: true, prepare: async () => ({ intents: [], result: null }) });
  }

  private scheduleResume(): void {
    if (this.deps.store.journalled) this.resumes.schedule();
  }

  /** Stops scheduling resumes (shutdown); running batches finish. */
  async stop(): Promise<void> {
    this.resumes.stop();
    this.saves.stop();
    await this.drained();
  }
}

/**
 * How old the picture may grow before a batch reads the whole rule set itself: two sync
 * intervals (the sync job refreshes it on the replica that runs it), or 5 minutes without one.
 */
export function pictureMaxAgeMs(config: Config): number {
  return config.syncIntervalSeconds > 0 ? 2 * config.syncIntervalSeconds * 1000 : 300_000;
}
