// The one place that touches both the database and the router (design.md "The heart").
// Change sets queue per router; the ones that arrive while a commit is in flight share the next
// batch: one advisory lock, one router commit with commit-confirm, one confirm, one DB commit.
import { UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { OperationState, RollbackEvent, RollbackOutcome, RollbackStage } from '../domain/entities/index.js';
import { AppError, conflict, rollbackFailed, routerRejected, routerUnavailable } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import { NAT_DESTINATION_PATH, inverse, parseNatDestination } from '../vyos/nat-rule.js';
import { assertSafeCommands } from '../vyos/path-guard.js';
import { takeSnapshot } from './snapshots.js';
import { RouterError, RouterErrorKind, type RouterApi, type RouterCommand, type RouterRule } from '../vyos/types.js';
import { byRuleNumber, planCommands, unchangedSince, verifyIntents, type RuleIntent } from './change-plan.js';
import type { EventBus } from './event-bus.js';
import type { RollbackEventPayload } from './events.js';
import type { Journal, JournalEntry } from './journal.js';

export interface ChangeContext {
  /** the change set's savepoint inside the batch transaction */
  em: EntityManager;
  config: Config;
  /** the router's NAT destination rules read at the start of the batch (under the lock) */
  routerRules: ReadonlyMap<number, RouterRule>;
}

export interface Prepared<T> {
  intents: RuleIntent[];
  result: T;
}

/** One client request's change: database edits plus what the touched rules must look like. */
export interface ChangeSet<T> {
  operation: string;
  /** take a router config snapshot before the batch that carries it (decommission, overridden reconcile, import) */
  critical?: boolean;
  prepare(ctx: ChangeContext): Promise<Prepared<T>>;
}

/** Observers for metrics; the coordinator does not know Prometheus. */
export interface CoordinatorHooks {
  batch?(e: { changeSets: number; commands: number; outcome: 'committed' | 'failed' | 'noop' | 'split'; durationMs: number }): void;
  rollback?(e: RollbackEventPayload): void;
}

export interface CoordinatorDeps {
  orm: MikroORM;
  router: RouterApi;
  config: Config;
  logger: Logger;
  events: EventBus;
  journal: Journal;
  hooks?: CoordinatorHooks;
}

interface Pending {
  set: ChangeSet<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

class BatchFailure extends Error {
  constructor(readonly clientError: Error) {
    super(clientError.message);
  }
}

export class Coordinator {
  private queue: Pending[] = [];
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  /** router commits this process made (batches that reached /configure) */
  routerCommits = 0;
  /** commands in the batch being attempted, for the batch hook */
  private batchCommands = 0;

  constructor(private readonly deps: CoordinatorDeps) {}

  submit<T>(set: ChangeSet<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ set, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Resolves when no batch is running or queued (shutdown, tests). */
  async drained(): Promise<void> {
    await this.idle;
  }

  /** Runs `fn` inside the router lock with no batch in flight (consistent drift reads). */
  async exclusive<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    const em = this.deps.orm.em.fork();
    return em.transactional(async (tem) => {
      await this.lock(tem);
      return fn(tem);
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    // A short window lets requests that arrive together share the first batch too.
    setTimeout(() => void this.drain(), this.deps.config.batchWindowMs);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.deps.config.batchMax);
        await this.runBatch(batch);
      }
    } finally {
      this.draining = false;
      this.markIdle();
      if (this.queue.length > 0) this.kick();
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const started = Date.now();
    this.batchCommands = 0;
    const outcome = await this.attempt(batch).catch((e: unknown) => {
      this.deps.logger.error({ err: e }, 'batch failed unexpectedly');
      for (const p of batch) p.reject(e);
      return 'failed' as const;
    });
    if (outcome === 'split') {
      // The router refused the batch: run each change set alone so only the offender fails.
      this.deps.logger.warn({ changeSets: batch.length }, 'router rejected a batch; retrying its change sets one by one');
      for (const p of batch) await this.runBatch([p]);
    }
    this.deps.hooks?.batch?.({ changeSets: batch.length, commands: this.batchCommands, outcome, durationMs: Date.now() - started });
  }

  private async lock(em: EntityManager): Promise<void> {
    // One writer per router across every replica; released with the transaction.
    await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`vyos-vm-api:router:${this.deps.config.routerName}`]);
  }

  private async readRules(): Promise<Map<number, RouterRule>> {
    return byRuleNumber(parseNatDestination(await this.deps.router.showConfig([...NAT_DESTINATION_PATH])));
  }

  private async attempt(batch: Pending[]): Promise<'committed' | 'failed' | 'noop' | 'split'> {
    const { orm, router, config, logger, journal } = this.deps;
    const em = orm.em.fork();
    await em.begin();
    let open = true;
    const rollbackDb = async () => {
      if (!open) return;
      open = false;
      await em.rollback().catch((e: unknown) => logger.error({ err: e }, 'database rollback failed'));
    };
    const failAll = (pending: Pending[], error: unknown) => pending.forEach((p) => p.reject(error));

    let before: Map<number, RouterRule>;
    let caps;
    try {
      await this.lock(em);
      caps = await router.capabilities();
      before = await this.readRules();
    } catch (e) {
      await rollbackDb();
      failAll(batch, toClientError(e));
      return 'failed';
    }

    // 2. Domain changes, each in its own savepoint so one bad request fails alone.
    const accepted: { p: Pending; intents: RuleIntent[]; result: unknown }[] = [];
    for (const p of batch) {
      try {
        const prepared = await em.transactional((tem) => p.set.prepare({ em: tem, config, routerRules: before }));
        accepted.push({ p, ...prepared });
      } catch (e) {
        p.reject(toClientError(e));
      }
    }
    if (accepted.length === 0) {
      await rollbackDb();
      return 'failed';
    }
    const pending = accepted.map((a) => a.p);
    const intents = accepted.flatMap((a) => a.intents);
    const operation = [...new Set(accepted.map((a) => a.p.set.operation))].join(',');
    const commands = planCommands(intents, before, caps.syntax);
    this.batchCommands = commands.length;

    const commitDb = async () => {
      open = false;
      await em.commit();
    };

    if (commands.length === 0) {
      try {
        await commitDb();
      } catch (e) {
        await em.rollback().catch(() => {});
        failAll(pending, toClientError(e));
        return 'failed';
      }
      accepted.forEach((a) => a.p.resolve(a.result));
      return 'noop';
    }

    try {
      // The last allow-list check: nothing that is not a value we render reaches the router.
      assertSafeCommands(commands);
    } catch (e) {
      await rollbackDb();
      failAll(pending, e);
      return 'failed';
    }

    if (accepted.some((a) => a.p.set.critical)) {
      try {
        await takeSnapshot(em, router, config, `before ${operation}`, operation);
      } catch (e) {
        // A critical change does not go ahead without its way back.
        await rollbackDb();
        failAll(pending, toClientError(e));
        return 'failed';
      }
    }

    // 3-4. One router batch, with commit-confirm where the router has it.
    const undo = inverse(commands, [...before.values()], { syntax: caps.syntax });
    const confirmMinutes = caps.commitConfirm ? config.confirmMinutes : undefined;
    // The deadline is written before the router is touched, so a restart knows how long to wait.
    const deadline = confirmMinutes ? new Date(Date.now() + confirmMinutes * 60_000) : null;
    const entry = await journal.start(operation, commands, undo, deadline);
    const ctx: UndoContext = { operation, commands, undo, intents, before, confirmPending: false, entry };

    try {
      try {
        this.routerCommits++;
        await router.configure(commands, confirmMinutes ? { confirmMinutes } : {});
      } catch (e) {
        const kind = e instanceof RouterError ? e.kind : null;
        if (kind === RouterErrorKind.REJECTED) {
          await rollbackDb();
          if (confirmMinutes && !/another confirm is pending/i.test(describe(e))) {
            // VyOS arms the revert timer before it commits, and a failed commit leaves it armed
            // (vyos-api.md §4): stop it, or every later commit-confirm is refused.
            await router.confirm().catch((err: unknown) => logger.warn({ err }, 'could not stop the commit-confirm timer left by a failed commit'));
          }
          await journal.mark(entry, OperationState.ROLLED_BACK, { error: describe(e) });
          if (accepted.length > 1) return 'split';
          // The router discarded the batch itself: nothing to undo there.
          await this.record(ctx, RollbackStage.ROUTER_COMMIT, describe(e), RollbackOutcome.ROLLED_BACK);
          throw new BatchFailure(toClientError(e));
        }
        if (kind !== RouterErrorKind.OUTCOME_UNKNOWN && kind !== RouterErrorKind.SERVER_ERROR) {
          // Refused before it reached the configuration (unreachable, unauthorized): nothing to undo.
          await rollbackDb();
          await journal.mark(entry, OperationState.ROLLED_BACK, { error: describe(e) });
          throw new BatchFailure(toClientError(e));
        }
        // A lost reply or a 5xx is not a failure yet: the commit may have happened (vyos-api.md §1, §6).
        logger.warn({ operation, err: e }, 'no usable reply to the commit; re-reading the router to learn the outcome');
        const settled = await this.settle(intents, before);
        if (settled === 'applied') {
          logger.info({ operation }, 'the lost commit did apply; continuing');
        } else if (settled === 'not-applied') {
          await rollbackDb();
          await journal.mark(entry, OperationState.ROLLED_BACK, { error: describe(e) });
          await this.record(ctx, RollbackStage.ROUTER_COMMIT, `${describe(e)}; the router did not apply it`, RollbackOutcome.ROLLED_BACK);
          throw new BatchFailure(routerUnavailable(describe(e)));
        } else {
          ctx.confirmPending = confirmMinutes !== undefined;
          await this.undo(ctx, RollbackStage.ROUTER_COMMIT, `${describe(e)}; the router state is uncertain`, routerUnavailable(describe(e)), rollbackDb);
        }
      }
      ctx.confirmPending = confirmMinutes !== undefined;
      await journal.mark(entry, OperationState.ROUTER_COMMITTED);

      // 5. Read back what we touched; a router that says yes but did something else is not confirmed.
      let problems: string[];
      try {
        problems = verifyIntents(intents, await this.readRules());
      } catch (e) {
        problems = [`read-back failed: ${describe(e)}`];
      }
      if (problems.length > 0) {
        const reason = `router state after commit differs from the intent: ${problems.join('; ')}`;
        await this.undo(ctx, RollbackStage.ROUTER_VERIFY, reason, routerRejected(reason), rollbackDb);
      }

      // 6. Confirm, then commit the database.
      if (confirmMinutes) {
        const failure = await this.confirm(deadline!);
        if (failure) await this.undo(ctx, RollbackStage.ROUTER_CONFIRM, `confirm failed: ${describe(failure)}`, toClientError(failure), rollbackDb);
        ctx.confirmPending = false;
        await journal.mark(entry, OperationState.CONFIRMED);
      }
      try {
        await commitDb();
      } catch (e) {
        await em.rollback().catch(() => {});
        logger.error({ err: e, operation }, 'database commit failed after the router change; undoing it on the router');
        await this.undo(ctx, RollbackStage.DATABASE_COMMIT, `database commit failed: ${describe(e)}`, e instanceof Error ? e : new Error(String(e)), async () => {});
      }
      await journal.mark(entry, OperationState.DONE);
      accepted.forEach((a) => a.p.resolve(a.result));
      return 'committed';
    } catch (e) {
      await rollbackDb();
      failAll(pending, e instanceof BatchFailure ? e.clientError : e);
      return 'failed';
    }
  }

  /**
   * After a lost reply: read the router until the touched rules show the intent (applied) or
   * still show the old state after a few reads (not applied). Anything else is uncertain.
   */
  private async settle(intents: RuleIntent[], before: ReadonlyMap<number, RouterRule>): Promise<'applied' | 'not-applied' | 'uncertain'> {
    let unchanged = 0;
    for (let attempt = 0; attempt < 6; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      const now = await this.readRules().catch(() => null);
      if (!now) continue;
      if (verifyIntents(intents, now).length === 0) return 'applied';
      // A commit still running on the router shows the old state: give it a few reads.
      if (unchangedSince(intents, before, now) && ++unchanged >= 3) return 'not-applied';
    }
    return 'uncertain';
  }

  /** Confirms; a lost reply is retried once, since "No confirm pending" before the deadline means it took. */
  private async confirm(deadline: Date): Promise<unknown | null> {
    try {
      await this.deps.router.confirm();
      return null;
    } catch (e) {
      if (!(e instanceof RouterError) || e.kind !== RouterErrorKind.OUTCOME_UNKNOWN) return e;
      try {
        const reply = await this.deps.router.confirm();
        return /no confirm pending/i.test(reply) && Date.now() >= deadline.getTime() ? e : null;
      } catch (again) {
        return again;
      }
    }
  }

  /**
   * Step 7: put the router back as it was, roll the database back, record and publish the event,
   * and fail the batch. Never returns.
   */
  private async undo(ctx: UndoContext, stage: RollbackStage, reason: string, clientError: Error, rollbackDb: () => Promise<void>): Promise<never> {
    const { router, logger, journal } = this.deps;
    await rollbackDb();
    let outcome: RollbackOutcome;
    try {
      await router.configure(ctx.undo);
      // The undo is a plain commit; confirming now stops the timer on a state equal to the last confirmed one.
      if (ctx.confirmPending) await router.confirm().catch(() => undefined);
      const now = await this.readRules();
      if (!unchangedSince(ctx.intents, ctx.before, now)) throw new Error('router state still differs after the undo');
      outcome = RollbackOutcome.ROLLED_BACK;
    } catch (e) {
      logger.error({ err: e, operation: ctx.operation }, 'undo on the router failed');
      // Under commit-confirm the router reverts by itself when the confirm never comes.
      outcome = ctx.confirmPending ? RollbackOutcome.AUTO_REVERTED : RollbackOutcome.ROLLBACK_FAILED;
    }
    await journal.mark(ctx.entry, outcome === RollbackOutcome.ROLLBACK_FAILED ? OperationState.ROLLBACK_FAILED : OperationState.ROLLED_BACK, { error: reason });
    if (outcome === RollbackOutcome.ROLLBACK_FAILED) await this.markNeedsRepair(ctx.intents.map((i) => i.ruleNumber));
    await this.record(ctx, stage, reason, outcome);
    throw new BatchFailure(outcome === RollbackOutcome.ROLLBACK_FAILED ? rollbackFailed(`${clientError.message}; undoing it on the router also failed, the affected rules need repair (see syncReport)`) : clientError);
  }

  /** Flags the rows whose router rule may now differ, so syncReport and the API show them. */
  private async markNeedsRepair(ruleNumbers: number[]): Promise<void> {
    await this.deps.orm.em
      .fork()
      .execute('update port_rule set needs_repair = true where rule_number = any(?::int[])', [`{${ruleNumbers.join(',')}}`])
      .catch((e: unknown) => this.deps.logger.error({ err: e }, 'could not mark rules as needing repair'));
  }

  /** Persists the event first (its own transaction), then publishes it. */
  async record(ctx: { operation: string; commands: RouterCommand[] }, stage: RollbackStage, reason: string, outcome: RollbackOutcome): Promise<void> {
    const { orm, logger, events, hooks } = this.deps;
    const em = orm.em.fork();
    const event = em.create(RollbackEvent, { operation: ctx.operation, stage, reason, outcome, commands: ctx.commands });
    try {
      await em.flush();
    } catch (e) {
      logger.error({ err: e }, 'could not persist a rollback event');
    }
    const payload: RollbackEventPayload = { id: event.id, at: event.at, operation: event.operation, stage, reason, outcome, commands: ctx.commands };
    const level = outcome === RollbackOutcome.ROLLBACK_FAILED ? 'error' : 'warn';
    logger[level]({ rollback: { ...payload, commands: ctx.commands.length } }, `change rolled back at ${stage}: ${outcome}`);
    hooks?.rollback?.(payload);
    await events.rollback(payload).catch((e: unknown) => logger.error({ err: e }, 'could not publish a rollback event'));
  }
}

interface UndoContext {
  operation: string;
  commands: RouterCommand[];
  undo: RouterCommand[];
  intents: RuleIntent[];
  before: ReadonlyMap<number, RouterRule>;
  confirmPending: boolean;
  entry: JournalEntry;
}

function describe(e: unknown): string {
  if (e instanceof RouterError) return e.details.routerMessage ? e.details.routerMessage.trim() : e.message;
  return e instanceof Error ? e.message : String(e);
}

const CONSTRAINT_MESSAGES: [RegExp, string, string][] = [
  [/vm_name_unique/, 'name', 'a VM with this name already exists'],
  [/vm_internal_ip_unique/, 'internalIp', 'this internal IP is already used by another VM'],
  [/vm_idempotency_key_unique/, 'idempotencyKey', 'this idempotency key was already used'],
  [/port_rule_(tcp|udp)_port_unique/, 'externalPort', 'this external port is already forwarded for that protocol'],
  [/port_rule_rule_number_unique/, 'ruleNumber', 'this rule number is already used'],
];

/** Maps anything thrown inside a batch to the closed error vocabulary (or leaves it to be masked). */
export function toClientError(e: unknown): Error {
  if (e instanceof AppError) return e;
  if (e instanceof UniqueConstraintViolationException) {
    const hit = CONSTRAINT_MESSAGES.find(([re]) => re.test(e.message));
    return hit ? conflict(`${hit[1]}: ${hit[2]}`, { field: hit[1] }) : conflict('a value that must be unique is already taken');
  }
  if (e instanceof RouterError) {
    if (e.kind === RouterErrorKind.REJECTED) return routerRejected(e.details.routerMessage ?? e.message);
    if (e.kind === RouterErrorKind.UNAUTHORIZED) return routerUnavailable('the router refused our API key (HTTP 401)');
    return routerUnavailable(e.message);
  }
  return e instanceof Error ? e : new Error(String(e));
}
