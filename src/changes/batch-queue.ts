// The batch queue: change sets that arrive while a batch is in flight share the next one (one
// router commit, one confirm, one database commit for all of them). A batch the router refused
// as a whole is split, so only the offender fails. A batch runs outside any request, so each
// change set brings its request's log context along, and the batch's lines list all of them. The
// batch's span, likewise, is linked to every request it carries (observability/spans.ts).
import type { Span } from '@opentelemetry/api';
import { batchLogContext, logContext, withLogContext, withoutLogContext, type LogContext, type Logger } from '../observability/logger.js';
import { ATTR, failSpan, inBatchSpan, inRequestSpan } from '../observability/spans.js';
import { currentAuditDraft, withoutAuditDraft } from './audit-trail.js';
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
  /** how long after the first request's arrival a batch waits for company */
  windowMs: number;
  /** change sets per batch at most */
  max: number;
  run(members: Member[]): Promise<{ outcome: BatchOutcome; commands: number; unsettled: boolean }>;
  onBatch?(report: BatchReport): void;
  /** one line per batch, with the request ids it carried (docs/monitoring.md) */
  logger?: Logger;
}

/** A queued change set, the log context of the request that submitted it, the span it waits in, and when its request arrived. */
type Queued = Member & { log: LogContext | undefined; span: Span | null; arrivedAt: number };

export class BatchQueue {
  private queue: Queued[] = [];
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(private readonly opts: BatchQueueOptions) {}

  submit<T>(set: ChangeSet<T>): Promise<T> {
    return inRequestSpan('coordinator submit', { [ATTR.operation]: set.operation }, (span) =>
      new Promise<T>((resolve, reject) => {
        // the mutation's audit draft rides along: the runner writes or notes its row (audit-trail.ts)
        const log = logContext();
        this.queue.push({ set: set as ChangeSet<unknown>, resolve: resolve as (v: unknown) => void, reject, log, span, audit: currentAuditDraft(), arrivedAt: log?.arrivedAt ?? performance.now() });
        this.kick();
      }),
    );
  }

  /** Resolves when no batch is running or queued (shutdown, tests). */
  async drained(): Promise<void> {
    await this.idle;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    // A short window lets requests that arrive together share the first batch too. It counts from
    // the first one's arrival, not from its submit: the time it spent being parsed, authenticated
    // and checked is part of the window, not added to it. The drain belongs to no request: the
    // timer must not inherit the context of the one that kicked it.
    const wait = this.queue[0].arrivedAt + this.opts.windowMs - performance.now();
    withoutAuditDraft(() => withoutLogContext(() => (wait >= 1 ? setTimeout(() => void this.drain(), wait) : setImmediate(() => void this.drain()))));
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
  private next(): Queued[] {
    if (this.queue[0].set.isolated) return this.queue.splice(0, 1);
    const batch: Queued[] = [];
    while (batch.length < this.opts.max && this.queue.length > 0 && !this.queue[0].set.isolated) batch.push(this.queue.shift()!);
    return batch;
  }

  private async runBatch(members: Queued[]): Promise<void> {
    const started = Date.now();
    const context = batchLogContext(members.map((m) => m.log));
    const operation = [...new Set(members.map((m) => m.set.operation))].join(',');
    const requests = members.map((m) => ({ span: m.span, requestId: m.log?.requestId }));
    const attributes = { [ATTR.batchId]: context.batchId!, [ATTR.operation]: operation, [ATTR.changeSets]: members.length };
    const result = await inBatchSpan(requests, attributes, (span) =>
      withLogContext(context, async () => {
        const r = await this.opts.run(members);
        const line = { changeSets: members.length, operation, ...r, durationMs: Date.now() - started };
        this.opts.logger?.[r.outcome === 'failed' ? 'warn' : 'info'](line, 'batch');
        span.setAttributes({ [ATTR.outcome]: r.outcome, [ATTR.commands]: r.commands });
        if (r.outcome === 'failed') failSpan(span, null, 'the batch failed');
        return r;
      }),
    );
    if (result.outcome === 'split') for (const m of members) await this.runBatch([m]);
    this.opts.onBatch?.({ changeSets: members.length, ...result, durationMs: Date.now() - started });
  }
}
