// The audit trail's rows (docs/security.md "Audit trail"): one per requested change. The GraphQL
// layer opens a draft for each root mutation field (graphql/audit.ts) and runs the resolver in
// its scope; the batch queue carries the draft with the change set, so the runner writes a
// committed change's row in the batch transaction that commits it, and notes on the draft how a
// failed or dry-run batch ended. Whatever is not written that way (refused, rolled back, dry
// run) is written afterwards by AuditTrail.write, in a short transaction of its own.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { AuditOutcome, type AuditTransport, type Role } from '../domain/entities/index.js';
import { addResultIds, type Affected } from '../domain/audit-facts.js';
import type { Logger } from '../observability/logger.js';
import { touchedRuleNumbers } from '../vyos/nat-rule.js';
import type { RouterCommand } from '../vyos/types.js';

export interface AuditWho {
  keyId: string | null;
  keyName: string | null;
  role: Role | null;
  clientAddress: string | null;
  transport: AuditTransport;
  requestId: string | null;
  traceId: string | null;
}

/** One root mutation field's audit row in the making. */
export interface AuditDraft {
  who: AuditWho;
  operation: string;
  operationName: string | null;
  /** already redacted (domain/audit-facts.ts) */
  arguments: Record<string, unknown>;
  affected: Affected;
  /** how the batch that carried it ended, when it did not commit (noted by the runner) */
  batch?: { outcome: AuditOutcome.ROLLED_BACK | AuditOutcome.DRY_RUN; reason: string | null; commands: RouterCommand[]; batchId: string };
  /** its row committed with the change itself: nothing is left to write */
  written: boolean;
}

export interface AuditRow {
  who: AuditWho;
  operation: string;
  operationName: string | null;
  arguments: Record<string, unknown>;
  affected: Affected;
  outcome: AuditOutcome;
  errorCode: string | null;
  reason: string | null;
  commands: RouterCommand[];
  batchId: string | null;
}

const scope = new AsyncLocalStorage<AuditDraft>();

/** Runs `fn` (a mutation's resolver) with `draft` as the change's audit draft. */
export function withAuditDraft<T>(draft: AuditDraft, fn: () => T): T {
  return scope.run(draft, fn);
}

/** The draft of the mutation field the running code belongs to, if any (the batch queue captures it at submit). */
export function currentAuditDraft(): AuditDraft | undefined {
  return scope.getStore();
}

/** Runs `fn` outside any draft: work that belongs to no request (the batch drain, its timers). */
export function withoutAuditDraft<T>(fn: () => T): T {
  return scope.exit(fn);
}

export function rowOf(d: AuditDraft, outcome: AuditOutcome, extra: Partial<Pick<AuditRow, 'errorCode' | 'reason' | 'commands' | 'batchId'>> = {}): AuditRow {
  return {
    who: d.who,
    operation: d.operation,
    operationName: d.operationName,
    arguments: d.arguments,
    affected: d.affected,
    outcome,
    errorCode: extra.errorCode ?? null,
    reason: extra.reason ?? null,
    commands: extra.commands ?? [],
    batchId: extra.batchId ?? null,
  };
}

/** The commands of a batch that touch these rule numbers: one change set's share of the commit. */
export function commandsFor(commands: readonly RouterCommand[], ruleNumbers: readonly number[]): RouterCommand[] {
  const mine = new Set(ruleNumbers);
  return commands.filter((c) => touchedRuleNumbers([c]).some((n) => mine.has(n)));
}

const uuids = (ids: readonly string[]) => `{${ids.join(',')}}`;

/** Inserts rows on `em` (the caller's transaction, or an implicit one), in one statement. */
export async function insertAuditRows(em: EntityManager, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  const one = '(gen_random_uuid(), clock_timestamp(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::uuid[], ?::uuid[], ?::uuid[], ?, ?, ?, ?::jsonb, ?::uuid)';
  await em.execute(
    `insert into audit_event (id, at, key_id, key_name, role, client_address, transport, request_id, trace_id, operation, operation_name, arguments,
                              vm_ids, port_rule_ids, api_key_ids, outcome, error_code, reason, commands, batch_id)
     values ${rows.map(() => one).join(', ')}`,
    rows.flatMap((r) => [
      r.who.keyId,
      r.who.keyName,
      r.who.role,
      r.who.clientAddress,
      r.who.transport,
      r.who.requestId,
      r.who.traceId,
      r.operation,
      r.operationName,
      JSON.stringify(r.arguments),
      uuids(r.affected.vmIds),
      uuids(r.affected.portRuleIds),
      uuids(r.affected.apiKeyIds),
      r.outcome,
      r.errorCode,
      r.reason,
      JSON.stringify(r.commands.map((c) => ({ op: c.op, path: [...c.path] }))),
      r.batchId,
    ]),
  );
}

/** Rows deleted per statement when pruning: short statements, no long lock on the table. */
const PRUNE_BATCH = 1000;
/** How often each process prunes (every replica may: deleting what another already deleted is harmless). */
const PRUNE_EVERY_MS = 10 * 60_000;

export class AuditTrail {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly opts: { /** AUDIT_RETENTION_DAYS in ms; 0 keeps rows forever */ retentionMs: number; logger: Logger },
  ) {}

  /**
   * Writes a row in a transaction of its own (refused, rolled back, dry run). A failure is logged,
   * not thrown: the change's outcome is settled and the client gets it either way.
   */
  async write(row: AuditRow): Promise<void> {
    try {
      await insertAuditRows(this.orm.em.fork(), [row]);
    } catch (e) {
      this.opts.logger.error({ err: e, operation: row.operation, outcome: row.outcome, requestId: row.who.requestId }, 'could not write the audit row');
    }
  }

  /** Prunes now and every PRUNE_EVERY_MS until stop(); nothing with AUDIT_RETENTION_DAYS=0. */
  start(): void {
    if (this.opts.retentionMs <= 0 || this.timer) return;
    this.pruneInBackground();
    this.timer = setInterval(() => this.pruneInBackground(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Deletes rows older than the retention, in batches; resolves with how many went. */
  async prune(): Promise<number> {
    if (this.opts.retentionMs <= 0) return 0;
    const before = new Date(Date.now() - this.opts.retentionMs);
    let total = 0;
    for (;;) {
      // by audit_event_at_id_index: the oldest rows first, a bounded number per statement
      const rows = await this.orm.em.fork().execute<{ n: number }[]>(
        'with gone as (delete from audit_event where id in (select id from audit_event where at < ? order by at limit ?) returning 1) select count(*)::int as n from gone',
        [before, PRUNE_BATCH],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }

  private pruneInBackground(): void {
    this.prune().then(
      (n) => n > 0 && this.opts.logger.info({ deleted: n }, 'pruned audit rows past AUDIT_RETENTION_DAYS'),
      (e: unknown) => this.opts.logger.warn({ err: e }, 'could not prune the audit trail; trying again later'),
    );
  }
}

/**
 * For a change made outside the runner (API keys): writes the running mutation's COMMITTED row
 * in `em`'s transaction. Mark the returned draft written once that transaction has committed.
 */
export async function auditInTransaction(em: EntityManager, result: unknown): Promise<AuditDraft | undefined> {
  const draft = currentAuditDraft();
  if (!draft || draft.written) return undefined;
  addResultIds(draft.affected, draft.operation, result);
  await insertAuditRows(em, [rowOf(draft, AuditOutcome.COMMITTED)]);
  return draft;
}
