// The router transaction as one stage table (design.md "The heart"; docs/operations.md is
// checked against it). Each row says what it does, the journal state it leaves, the stage a
// rollback event names, and how a failure there is undone. `RouterTransaction.run` walks the rows
// top to bottom; a row answers with a Step, never an exception as control flow. The router lock
// is held from the first row until the router is known to agree with the database again.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { AuditOutcome, OperationState, RollbackOutcome, RollbackStage, type Snapshot } from '../domain/entities/index.js';
import { conflict, rollbackFailed, routerBusy, routerRejected, routerUnavailable, toClientError } from '../domain/errors.js';
import { logContext, type Logger } from '../observability/logger.js';
import { ATTR, failSpan, inSpan } from '../observability/spans.js';
import { isOurTwin, isTwinNumber, masqueradeRule, withTwins } from '../domain/hairpin.js';
import { configuredAcceptRule } from '../vyos/managed-accept.js';
import { planOwned, readOwned, restoreOwned, sameOwnedState, type OwnedRule, type OwnedState } from '../vyos/owned-rule.js';
import { inverse, touchedRuleNumbers } from '../vyos/nat-rule.js';
import { assertSafeCommands } from '../vyos/path-guard.js';
import { RouterError, RouterErrorKind, type RouterApi, type RouterCapabilities, type RouterCommand, type RouterRule } from '../vyos/types.js';
import { commandsFor, rowOf, type AuditDraft } from './audit-trail.js';
import { planCommands, stateAfter, unchangedSince, verifyIntents, withIntents, type RuleIntent } from './change-plan.js';
import type { ChangeSet, Prepared } from './change-set.js';
import type { BatchTx, ChangeStore, JournalRow } from './change-store.js';
import { UNSETTLED_STATES, enabledRules, hairpinnedRules } from './change-store.js';
import type { RollbackRecorder } from './rollback-recorder.js';
import type { RouterPicture } from './router-picture.js';
import { snapshotFile } from './snapshots.js';

export enum StageName {
  LOCK = 'lock',
  READ_ROUTER = 'read router',
  AWAIT_OWN_TIMER = 'await own timer',
  PREPARE = 'prepare',
  READ_TOUCHED = 'read touched',
  PLAN = 'plan + guard',
  SNAPSHOT = 'snapshot',
  JOURNAL = 'journal',
  ROUTER_COMMIT = 'router commit',
  VERIFY = 'verify',
  CONFIRM = 'confirm',
  DATABASE_COMMIT = 'database commit',
  SAVE = 'save',
}

/** How a failure is undone. */
export enum UndoPath {
  /** nothing reached the router: roll the database back, answer the client */
  RELEASE = 'release',
  /** the router refused and discarded the batch itself: roll back, record ROLLED_BACK */
  DISCARDED = 'discarded',
  /** the router has, or may have, the change: put it back under the lock, roll back, record the outcome */
  REVERT = 'revert',
  /** nothing is undone: the change is correct and committed on both sides (a failed save is retried and shown) */
  NONE = 'none',
}

export interface Member {
  set: ChangeSet<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** the audit draft of the mutation that submitted it (audit-trail.ts); none for the server's own changes */
  audit?: AuditDraft;
}

export type BatchOutcome = 'committed' | 'failed' | 'noop' | 'split';

export interface TransactionDeps {
  router: RouterApi;
  /** the router's rules as last seen (router-picture.ts); only the runner and drift read through it */
  picture: RouterPicture;
  store: ChangeStore;
  recorder: RollbackRecorder;
  config: Config;
  logger: Logger;
  /** the first pause between re-reads of the router (doubles each time) */
  rereadMs?: number;
  /** how long past an armed timer's deadline to wait for the router's own revert */
  revertGraceMs?: number;
  /** observers for metrics and for the coordinator's save retries */
  hooks?: TransactionHooks;
}

export interface TransactionHooks {
  /** a batch waited out a busy router; `through`: the commit went through in the end */
  busyWait?(e: { waitedMs: number; through: boolean }): void;
  /** the save after a batch: ok, or the error that leaves the router unsaved */
  saved?(e: { ok: true } | { ok: false; error: string }): void;
}

/** What one batch carries from row to row. */
interface Batch {
  /** names the batch in its members' audit rows */
  id: string;
  members: Member[];
  accepted: { member: Member; prepared: Prepared<unknown> }[];
  release: (() => Promise<void>) | null;
  tx: BatchTx | null;
  caps: RouterCapabilities;
  /** the router before the batch: the whole rule set (`whole`), or the touched rules as just read */
  before: ReadonlyMap<number, RouterRule>;
  /** `before` is a whole read taken in this batch */
  whole: boolean;
  /** the members the prepare stage runs: all at first, the accepted ones when preparing again */
  preparing: Member[];
  /** times the change sets were prepared again after a stale picture */
  replans: number;
  /** rule numbers allocation passed by because the picture holds them (ChangeContext.avoided) */
  avoided: Set<number>;
  intents: RuleIntent[];
  commands: RouterCommand[];
  operation: string;
  loadFile: string | null;
  confirmMinutes: number | undefined;
  deadline: Date | null;
  entry: string | null;
  /** a commit-confirm timer of ours may be running on the router */
  timerArmed: boolean;
  /** a commit with confirm_time reached (or may have reached) the router */
  sentWithTimer: boolean;
  snapshot: Snapshot | null;
  /** resumed journal entries whose change the router showed when the batch began */
  resumeSeen: Set<string>;
  /** what the resumed entries settled as, decided in the batch transaction */
  settlements: Settlement[];
  /** save the running config once the batch is through (VYOS_SAVE, or a save retry) */
  save: boolean;
  /** our own timeout cut the commit off: the router may still be working on it (§6), so it is undone as if applied */
  lateWrite: boolean;
  /** the accepted change sets have their answers (at the database commit, or at the end) */
  answered: boolean;
  /** the rules we own beside the NAT destination rules (VYOS_FIREWALL=manage, VYOS_HAIRPIN): how each was before the batch and should be after */
  owned: OwnedPlan[];
}

/** One owned rule's part of a batch (owned-rule.ts). */
interface OwnedPlan {
  /** what it is, for the logs and the read-back's complaint */
  name: string;
  path: string[];
  description: string;
  desired: OwnedRule | null;
  before: OwnedState;
  /** part of the batch's commands */
  commands: RouterCommand[];
  inverse: RouterCommand[];
}

type Step =
  | { kind: 'next' }
  | { kind: 'finish'; outcome: 'noop' | 'dry-run' }
  | { kind: 'split' }
  | { kind: 'replan'; whole: boolean }
  | { kind: 'fail'; undo: UndoPath; reason: string; error: Error | null };

const NEXT: Step = { kind: 'next' };
const fail = (undo: UndoPath, reason: string, error: Error | null): Step => ({ kind: 'fail', undo, reason, error });

export interface StageRow {
  name: StageName;
  /** one line: what the stage does (docs/operations.md lists these) */
  does: string;
  /** the journal state the stage leaves: written by the stage itself, or after it in its own short transaction */
  journal?: { state: OperationState; by: 'stage' | 'runner' };
  /** the stage a rollback event names when the change fails here */
  rollbackStage?: RollbackStage;
  /** how a failure here (an exception, or the stage's own verdict) is undone */
  onFailure: UndoPath;
  /** the branches the stage can take, for the docs */
  branches?: string;
  when?(b: Batch): boolean;
  run(b: Batch, d: TransactionDeps): Promise<Step>;
}

export const STAGES: readonly StageRow[] = [
  {
    name: StageName.LOCK,
    does: 'take the router lock (an in-process mutex and a PostgreSQL session advisory lock) and open the batch transaction',
    onFailure: UndoPath.RELEASE,
    async run(b, d) {
      b.release = await d.store.lockRouter();
      b.tx = await d.store.begin();
      return NEXT;
    },
  },
  {
    name: StageName.READ_ROUTER,
    does: "read the router's capabilities; the whole `nat destination` tree only for change sets that plan against all of it (reconcile, import, recovery, a snapshot load) or when the picture is older than its maximum age",
    onFailure: UndoPath.RELEASE,
    async run(b, d) {
      b.caps = await d.router.capabilities();
      if (b.members.some((m) => m.set.wholePicture) || !d.picture.fresh()) {
        b.before = await d.picture.readWhole(d.router);
        b.whole = true;
      }
      return NEXT;
    },
  },
  {
    name: StageName.AWAIT_OWN_TIMER,
    does: "for a resumed journal entry whose commit-confirm timer is still running: wait for the router's own revert",
    onFailure: UndoPath.RELEASE,
    when: (b) => b.members.some((m) => m.set.resumes),
    async run(b, d) {
      for (const m of b.members) {
        const row = m.set.resumes;
        if (!row) continue;
        const goal = await b.tx!.intentsFor(touchedRuleNumbers(row.commands));
        if (verifyIntents(goal, b.before).length > 0) b.resumeSeen.add(row.id);
        const until = (row.confirmDeadline?.getTime() ?? 0) + (d.revertGraceMs ?? 10_000);
        while (verifyIntents(goal, b.before).length > 0 && Date.now() < until) {
          await sleep(Math.min(d.rereadMs ?? 1000, 1000));
          b.before = await d.picture.readWhole(d.router);
        }
      }
      return NEXT;
    },
  },
  {
    name: StageName.PREPARE,
    does: 'run each change set in its own savepoint (domain edits, allocation, flush): one bad request fails alone',
    onFailure: UndoPath.RELEASE,
    async run(b, d) {
      for (const member of b.preparing) {
        const resumed = member.set.resumes;
        if (resumed && !UNSETTLED_STATES.includes((await b.tx!.journalRow(resumed.id))?.state ?? OperationState.DONE)) {
          member.resolve(null); // another replica settled it meanwhile
          continue;
        }
        try {
          const ctx = { config: d.config, routerRules: d.picture.rules, router: d.picture, avoided: b.avoided, syntax: b.caps.syntax };
          const prepared = await b.tx!.savepoint((em) => member.set.prepare({ ...ctx, em }));
          // VYOS_HAIRPIN: each rule brings its twin (or its twin's removal, when the rule has none
          // now), planned, verified and undone with it; the database says which rules have one.
          if (d.config.hairpin) prepared.intents = withTwins(prepared.intents, d.config.natRuleRange, d.config.hairpin, await hairpinnedRules(b.tx!.em, d.config.routerName, prepared.intents.map((i) => i.ruleNumber), d.config.hairpin));
          b.accepted.push({ member, prepared });
        } catch (e) {
          member.reject(toClientError(e));
        }
      }
      return b.accepted.length > 0 ? NEXT : fail(UndoPath.RELEASE, 'every change set failed', null);
    },
  },
  {
    name: StageName.READ_TOUCHED,
    does: 'read the rules the change sets touch (one read each, or one whole read when the reads so far say that is cheaper) and check them against the picture they were prepared from',
    onFailure: UndoPath.RELEASE,
    branches:
      'a touched rule differs from the picture (a foreign rule on a number we would allocate, a rule changed by hand): the picture takes it, the database is rolled back and the change sets are prepared again, from a whole read the third time',
    when: (b) => !b.whole,
    async run(b, d) {
      // What allocation passed by for the picture's sake is read too (a few at most): a stale entry is corrected.
      const numbers = [...b.accepted.flatMap((a) => a.prepared.intents.map((i) => i.ruleNumber)), ...[...b.avoided].slice(0, AVOIDED_READS)];
      const seen = d.picture.entries(numbers);
      b.before = await d.picture.readRules(d.router, numbers);
      const stale = d.picture.differs(numbers, b.before, seen);
      if (stale.length === 0) return NEXT;
      d.logger.info({ rules: stale, operation: b.operation }, 'the router differs from the picture at rules this batch touches; preparing again');
      return { kind: 'replan', whole: b.replans >= 2 };
    },
  },
  {
    name: StageName.PLAN,
    does: 'plan the commands from the intents and the router state, with the rules we own beside them (VYOS_FIREWALL=manage, VYOS_HAIRPIN: read first), and pass them through the allow-list guard',
    onFailure: UndoPath.RELEASE,
    branches: "a hairpin twin's number held by someone else's rule -> RELEASE with CONFLICT; a dry run stops here (the plan is its answer, the database is rolled back); nothing to send, snapshot or save: commit the database and finish",
    async run(b, d) {
      const sets = b.accepted.map((a) => a.member.set);
      b.intents = b.accepted.flatMap((a) => a.prepared.intents);
      b.operation = [...new Set(sets.map((s) => s.operation))].join(',');
      b.loadFile = b.accepted.map((a) => a.prepared.loadFile).find((f) => f) ?? null;
      const twinHeld = b.loadFile ? null : foreignTwin(b, d);
      if (twinHeld) return fail(UndoPath.RELEASE, twinHeld.message, twinHeld);
      b.commands = b.loadFile ? [] : planCommands(b.intents, b.before, b.caps.syntax);
      b.owned = b.loadFile ? [] : await planOwnedRules(b, d);
      for (const o of b.owned) b.commands.push(...o.commands);
      // The last allow-list check: nothing that is not a value we render reaches the router.
      assertSafeCommands(b.commands);
      if (sets.some((s) => s.dryRun)) return { kind: 'finish', outcome: 'dry-run' };
      b.save = d.config.vyosSave && (sends(b) || sets.some((s) => s.save));
      if (!sends(b) && !wantsSnapshot(b) && !b.save) return { kind: 'finish', outcome: 'noop' };
      return NEXT;
    },
  },
  {
    name: StageName.SNAPSHOT,
    does: 'save the running config to a rotating file on the router (`/config-file save`) and record it in the batch transaction',
    onFailure: UndoPath.RELEASE,
    branches: 'a critical change does not go ahead without its way back',
    when: wantsSnapshot,
    async run(b, d) {
      const keep = d.config.snapshotKeep;
      const slot = await b.tx!.nextSnapshotSlot(keep);
      const file = snapshotFile(slot);
      await d.router.saveConfigFile(file);
      const reason = b.accepted.map((a) => a.member.set.snapshotReason).find((r) => r) ?? `before ${b.operation}`;
      b.snapshot = await b.tx!.recordSnapshot({ slot, file, reason, operation: sends(b) ? b.operation : null }, keep);
      return NEXT;
    },
  },
  {
    name: StageName.JOURNAL,
    does: 'write the journal row (commands, inverse, confirm deadline) before the router is touched',
    journal: { state: OperationState.PENDING, by: 'stage' },
    onFailure: UndoPath.RELEASE,
    when: sends,
    async run(b, d) {
      b.confirmMinutes = b.caps.commitConfirm ? d.config.confirmMinutes : undefined;
      b.deadline = b.confirmMinutes ? new Date(Date.now() + b.confirmMinutes * 60_000) : null;
      const undo = [...inverse(b.commands, [...b.before.values()], { syntax: b.caps.syntax }), ...b.owned.flatMap((o) => o.inverse)];
      b.entry = await d.store.startJournal(b.operation, b.commands, undo, b.deadline);
      return NEXT;
    },
  },
  {
    name: StageName.ROUTER_COMMIT,
    does: 'send the batch as one `/configure` commit, with `confirm_time` where the router has commit-confirm (or `/config-file load`)',
    journal: { state: OperationState.ROUTER_COMMITTED, by: 'runner' },
    rollbackStage: RollbackStage.ROUTER_COMMIT,
    onFailure: UndoPath.REVERT,
    branches:
      'busy (a commit-confirm pending, a held commit lock) -> wait and retry with back-off up to VYOS_BUSY_WAIT_SECONDS (or past our own timer\'s deadline, which we know), undoing first what a commit-first router committed anyway, then RELEASE with a retryable ROUTER_UNAVAILABLE; refused (400) -> the router discarded it: DISCARDED, or split a batch of several change sets; never reached (unreachable, 401) -> RELEASE; lost reply, 5xx or a reply that is not the envelope -> re-read: applied -> go on, unchanged -> DISCARDED after a 5xx or a reply that is not the envelope, but never after a lost reply (the router may still commit it: REVERT as if applied, the row watched for a late commit); uncertain -> REVERT',
    when: sends,
    async run(b, d) {
      const options = b.confirmMinutes ? { confirmMinutes: b.confirmMinutes } : {};
      const started = Date.now();
      let limit: number | undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          if (b.loadFile) await d.router.loadConfigFile(b.loadFile, options);
          else await d.router.configure(b.commands, options);
          b.timerArmed = b.sentWithTimer = b.confirmMinutes !== undefined;
          if (attempt > 0) d.hooks?.busyWait?.({ waitedMs: Date.now() - started, through: true });
          return NEXT;
        } catch (e) {
          const kind = e instanceof RouterError ? e.kind : null;
          if (kind === RouterErrorKind.BUSY) {
            const landed = await undoWhatLanded(b, d, e as RouterError);
            if (landed) return landed;
            const waited = Date.now() - started;
            // A timer of our own (an undo still owed under commit-confirm) ends at a deadline we know.
            limit ??= Math.max(d.config.vyosBusyWaitMs, (await ownTimerDeadline(d)) + 10_000 - started);
            if (waited >= limit) {
              d.hooks?.busyWait?.({ waitedMs: waited, through: false });
              return fail(UndoPath.RELEASE, `router busy: ${describe(e)}`, routerBusy(describe(e), waited));
            }
            d.logger.warn({ operation: b.operation, routerMessage: describe(e), waitedMs: waited }, 'the router is busy; waiting to retry the commit');
            await sleep(Math.min(busyBackoff(attempt, d), limit - waited));
            continue;
          }
          if (kind === RouterErrorKind.REJECTED) {
            // June 2025 code arms the timer before it commits and a failed commit leaves it armed
            // (vyos-api.md §4): ours to stop. On commit-first code nothing was armed, and a
            // confirm would stop whatever is pending, someone else's included: never send it then.
            b.timerArmed = b.confirmMinutes !== undefined && b.caps.confirmOrder === 'arm-first';
            return b.accepted.length > 1 ? { kind: 'split' } : fail(UndoPath.DISCARDED, describe(e), toClientError(e));
          }
          if (kind !== RouterErrorKind.OUTCOME_UNKNOWN && kind !== RouterErrorKind.SERVER_ERROR && kind !== RouterErrorKind.PROTOCOL) {
            return fail(UndoPath.RELEASE, describe(e), toClientError(e));
          }
          // A lost reply or a 5xx is not a failure yet: the commit may have happened (vyos-api.md §1, §6).
          d.logger.warn({ operation: b.operation, err: e }, 'no usable reply to the commit; re-reading the router to learn the outcome');
          // A write whose reply was lost (our timeout, a reset) may still be queued on the router (§6).
          b.lateWrite = kind === RouterErrorKind.OUTCOME_UNKNOWN;
          const settled = await settle(b, d);
          b.sentWithTimer = settled !== 'not-applied' && b.confirmMinutes !== undefined;
          // Only a commit seen applied armed a timer that is surely ours.
          b.timerArmed = settled === 'applied' && b.confirmMinutes !== undefined;
          if (settled === 'applied') {
            d.logger.info({ operation: b.operation }, 'the lost commit did apply; continuing');
            return NEXT;
          }
          if (settled === 'not-applied') return fail(UndoPath.DISCARDED, `${describe(e)}; the router did not apply it`, routerUnavailable(describe(e)));
          return fail(UndoPath.REVERT, `${describe(e)}; the router state is uncertain`, routerUnavailable(describe(e)));
        }
      }
    },
  },
  {
    name: StageName.VERIFY,
    does: 'read the touched rules (and any owned rule written) back and compare them with the intent (a read that fails is retried before deciding)',
    rollbackStage: RollbackStage.ROUTER_VERIFY,
    onFailure: UndoPath.REVERT,
    when: (b) => sends(b) && b.loadFile === null,
    async run(b, d) {
      const after = await reread(d, touched(b));
      if (!after) return fail(UndoPath.REVERT, 'read-back failed: the router did not answer', routerUnavailable('the router did not answer the read-back'));
      const problems = verifyIntents(b.intents, after);
      for (const o of b.owned.filter((x) => x.commands.length > 0)) {
        const now = await readOwnedNow(d, o).catch(() => null);
        const written = o.desired ? now?.kind === 'ours' && now.exact : now?.kind === 'absent';
        if (!written) problems.push(`${o.path.join(' ')} is not as written`);
      }
      if (problems.length === 0) return NEXT;
      const reason = `router state after commit differs from the intent: ${problems.join('; ')}`;
      return fail(UndoPath.REVERT, reason, routerRejected(reason));
    },
  },
  {
    name: StageName.CONFIRM,
    does: 'confirm the commit-confirm timer this batch armed, and check the reply',
    journal: { state: OperationState.CONFIRMED, by: 'runner' },
    rollbackStage: RollbackStage.ROUTER_CONFIRM,
    onFailure: UndoPath.REVERT,
    branches:
      '"No confirm pending" -> the window ended and the router reverted by itself: REVERT (records AUTO_REVERTED); a lost reply is retried once ("No confirm pending" before the deadline then means it took)',
    when: (b) => b.timerArmed,
    async run(b, d) {
      const verdict = await confirmTimer(d, b.deadline);
      if (verdict === 'confirmed') {
        b.timerArmed = false;
        return NEXT;
      }
      if (verdict === 'expired') {
        b.timerArmed = false;
        const reason = `the router answered "No confirm pending": its ${b.confirmMinutes}-minute commit-confirm window ended before the confirm and it reverted the change by itself`;
        return fail(UndoPath.REVERT, reason, routerUnavailable(reason));
      }
      return fail(UndoPath.REVERT, `confirm failed: ${describe(verdict)}`, toClientError(verdict));
    },
  },
  {
    name: StageName.DATABASE_COMMIT,
    does: 'commit the database transaction, with the journal row marked DONE in it, and answer the clients: the save that follows is not waited for, unless a change set is a save itself (the save retry)',
    journal: { state: OperationState.DONE, by: 'stage' },
    rollbackStage: RollbackStage.DATABASE_COMMIT,
    onFailure: UndoPath.REVERT,
    async run(b, d) {
      await commitBatch(b, d);
      // The change is committed on both sides: the save after it only makes it survive a reboot, and
      // never undoes it (a failed one is retried and shown), while on a real router it renders the
      // whole configuration, so it grows with the fleet. The router lock is held through it.
      if (!b.accepted.some((a) => a.member.set.save)) answer(b);
      return NEXT;
    },
  },
  {
    name: StageName.SAVE,
    does: 'save the running config to `/config/config.boot` (`/config-file save`): a commit is not a save, and the router boots from that file',
    onFailure: UndoPath.NONE,
    branches: 'a failed save never undoes a correct change: the router is marked unsaved (metric, /health, syncReport) and the save is retried until one succeeds',
    when: (b) => b.save,
    async run(b, d) {
      let outcome: { ok: true } | { ok: false; error: string };
      try {
        await d.router.saveBootConfig();
        outcome = { ok: true };
      } catch (e) {
        d.logger.error({ err: e, operation: b.operation }, 'could not save the router configuration; the change is live but would not survive a reboot');
        outcome = { ok: false, error: describe(e) };
      }
      await d.store.recordSave(outcome).catch((e: unknown) => d.logger.error({ err: e }, 'could not record the save state'));
      d.hooks?.saved?.(outcome);
      return NEXT;
    },
  },
];

/** After `Another confirm is pending` on a commit-first router the batch may be committed anyway, under someone else's timer: undo it before waiting. */
async function undoWhatLanded(b: Batch, d: TransactionDeps, e: RouterError): Promise<Step | null> {
  if (!b.confirmMinutes || b.caps.confirmOrder === 'arm-first' || !/another confirm is pending/i.test(describe(e)) || b.loadFile) return null;
  if ((await putBack(b, d, false)).back) return null;
  return fail(UndoPath.REVERT, `${describe(e)}; the router committed the batch anyway (commit-first order) and undoing it failed`, routerUnavailable(describe(e)));
}

/** When the latest commit-confirm timer this server may still have running ends (0: none). */
async function ownTimerDeadline(d: TransactionDeps): Promise<number> {
  const rows = await d.store.unsettled().catch(() => []);
  return Math.max(0, ...rows.map((r) => r.confirmDeadline?.getTime() ?? 0));
}

/**
 * REVERT_STEPS 1-2: read the touched rules, send what puts them back as before the batch (as a
 * plain commit), read again. `assumeApplied`: plan against the router as if the batch had landed.
 */
async function putBack(b: Batch, d: TransactionDeps, assumeApplied: boolean): Promise<{ back: boolean; sent: boolean }> {
  const goal = goalBefore(b);
  let now = await reread(d, touched(b));
  if (now && assumeApplied) now = withIntents(now, b.intents);
  let sent = false;
  const owned = b.owned.filter((o) => o.commands.length > 0);
  const readOwnedAll = () => Promise.all(owned.map((o) => readOwnedNow(d, o).catch(() => null)));
  let ownedNow = await readOwnedAll();
  const ownedBack = () => owned.every((o, i) => ownedNow[i] !== null && sameOwnedState(o.before, ownedNow[i]!));
  if (now && (!unchangedSince(goal, b.before, now) || !ownedBack())) {
    try {
      const restore = owned.flatMap((o, i) => (ownedNow[i] ? restoreOwned(o.before, ownedNow[i]!, o.path) : []));
      await d.router.configure([...planCommands(goal, now, b.caps.syntax), ...restore]);
      sent = true;
    } catch (e) {
      d.logger.error({ err: e, operation: b.operation }, 'undo on the router failed');
    }
    now = await reread(d, touched(b));
    ownedNow = await readOwnedAll();
  }
  return { back: now !== null && unchangedSince(goal, b.before, now) && ownedBack(), sent };
}

/** An owned rule as the router holds it now. */
async function readOwnedNow(d: TransactionDeps, o: { path: string[]; description: string; desired: OwnedRule | null }): Promise<OwnedState> {
  return readOwned(await d.router.showConfig(o.path), o.desired ?? { description: o.description });
}

/**
 * The rules we own beside the NAT destination rules, each going with the batch when it is not as
 * it should be: there while any port rule is enabled (as the batch leaves the database), gone
 * otherwise. VYOS_FIREWALL=manage's accept rule (not on 1.3, which has no `firewall ipv4`) and
 * VYOS_HAIRPIN's masquerade rule. Someone else's rule at the number is left alone, and logged.
 */
async function planOwnedRules(b: Batch, d: TransactionDeps): Promise<OwnedPlan[]> {
  const { config } = d;
  const wanted: { name: string; rule: OwnedRule; hint: string; twins?: boolean }[] = [];
  if (config.vyosFirewall === 'manage' && b.caps.syntax !== '1.3') {
    wanted.push({ name: 'firewall accept rule', rule: configuredAcceptRule(config), hint: 'VYOS_FIREWALL_RULE' });
  }
  if (config.hairpin) wanted.push({ name: 'hairpin masquerade rule', rule: masqueradeRule(config.hairpin, config.lanPool, b.caps.syntax), hint: 'VYOS_HAIRPIN_SNAT_RULE', twins: true });
  if (wanted.length === 0) return [];
  // the accept rule is there while any rule is enabled, the masquerade rule while any enabled rule has a twin
  const enabled = await enabledRules(b.tx!.em, config.routerName, config.hairpin);
  return Promise.all(
    wanted.map(async ({ name, rule, hint, twins }) => {
      const desired = (twins ? enabled.twins : enabled.any) ? rule : null;
      const o = { name, path: rule.path, description: rule.description, desired };
      const before = await readOwnedNow(d, o);
      const plan = planOwned(desired, rule.path, before);
      if (plan.refused) d.logger.warn({ path: rule.path.join(' ') }, `${rule.path.join(' ')} is not ours (no "${rule.description}" description): the ${name} is left alone; set ${hint} to a free number`);
      return { ...o, before, commands: plan.commands, inverse: plan.inverse };
    }),
  );
}

/**
 * A hairpin twin's number held by a rule that is not a twin of ours is never written over nor
 * deleted: a twin we want there is a CONFLICT; the removal of a twin that is not there (a rule
 * without hairpin) leaves that rule alone, so its intent is dropped.
 */
function foreignTwin(b: Batch, d: TransactionDeps): Error | null {
  const s = d.config.hairpin;
  if (!s) return null;
  const foreign = (n: number) => {
    const held = b.before.get(n);
    return isTwinNumber(n, d.config.natRuleRange, s) && held !== undefined && !isOurTwin(held);
  };
  const wanted = b.intents.find((i) => i.desired !== null && foreign(i.ruleNumber));
  if (wanted) {
    return conflict(`nat destination rule ${wanted.ruleNumber} (a hairpin twin's number, NAT rule + VYOS_HAIRPIN_RULE_OFFSET) holds a rule that is not ours: move it, or change VYOS_HAIRPIN_RULE_OFFSET`);
  }
  b.intents = b.intents.filter((i) => !foreign(i.ruleNumber));
  return null;
}

/** 1 s doubling to 10 s between attempts on a busy router. */
function busyBackoff(attempt: number, d: TransactionDeps): number {
  return Math.min(10_000, (d.rereadMs ?? 1000) * 2 ** Math.min(attempt, 4));
}

/** The touched rules as they were before the batch. */
function goalBefore(b: Batch): RuleIntent[] {
  return touchedRuleNumbers(b.commands).map((n) => ({ ruleNumber: n, desired: b.before.get(n) ?? null }));
}

/** What the REVERT path does, in order (docs/operations.md lists these). */
export const REVERT_STEPS: readonly string[] = [
  'read the touched rules (retried); if they already are as before the batch, send nothing',
  'otherwise send the commands that put them back as before, as a plain commit',
  'read again; once they are as before, stop our own commit-confirm timer (confirm, retried)',
  'back as before and no timer of ours left -> ROLLED_BACK (AUTO_REVERTED when the router had reverted by itself); a timer of ours still running -> AUTO_REVERTED; otherwise ROLLBACK_FAILED and `needs_repair`',
  'an outcome the router has not reached yet (our timer still running, or a failed undo) leaves the journal row UNDO_PENDING: it is resumed, with back-off, until router and database agree',
];

/** The most rule numbers allocation passed by that a batch reads to check the picture. */
const AVOIDED_READS = 16;

function sends(b: Batch): boolean {
  return b.commands.length > 0 || b.loadFile !== null;
}
function wantsSnapshot(b: Batch): boolean {
  return b.accepted.some((a) => a.member.set.snapshotReason) || (sends(b) && b.accepted.some((a) => a.member.set.critical));
}

export class RouterTransaction {
  constructor(private readonly d: TransactionDeps) {}

  /** Runs one batch through the stage table; every member is resolved or rejected. */
  async run(members: Member[]): Promise<{ outcome: BatchOutcome; commands: number; unsettled: boolean }> {
    const b: Batch = {
      // the batch id of its log lines (batch-queue.ts), so rows and lines can be matched
      id: logContext()?.batchId ?? randomUUID(),
      members,
      accepted: [],
      release: null,
      tx: null,
      caps: { version: 'unknown', commitConfirm: false, commitConfirmBasis: 'unsure', confirmOrder: 'unknown', syntax: '1.4' },
      before: new Map(),
      whole: false,
      preparing: members,
      replans: 0,
      avoided: new Set(),
      intents: [],
      commands: [],
      owned: [],
      operation: members.map((m) => m.set.operation).join(','),
      loadFile: null,
      confirmMinutes: undefined,
      deadline: null,
      entry: null,
      timerArmed: false,
      sentWithTimer: false,
      snapshot: null,
      resumeSeen: new Set(),
      settlements: [],
      save: false,
      lateWrite: false,
      answered: false,
    };
    try {
      for (let i = 0; i < STAGES.length; i++) {
        const row = STAGES[i];
        if (row.when && !row.when(b)) continue;
        const step = await inSpan(row.name, {}, async (span) => {
          const s = await row.run(b, this.d).catch((e: unknown): Step => fail(row.onFailure, describe(e), toClientError(e)));
          span.setAttribute(ATTR.step, s.kind);
          if (s.kind === 'fail') {
            span.setAttribute(ATTR.undo, s.undo);
            failSpan(span, s.error, s.reason);
          }
          return s;
        });
        if (step.kind === 'next') {
          if (row.journal?.by === 'runner' && b.entry) await this.d.store.markJournal(b.entry, row.journal.state);
          continue;
        }
        if (step.kind === 'replan') {
          // Nothing was sent: prepare the accepted change sets again against the corrected picture.
          await this.replan(b, step.whole);
          i = STAGES.findIndex((r) => r.name === StageName.PREPARE) - 1;
          continue;
        }
        // A failure's undo (UndoPath) gets a span too: its router calls are not the stage's.
        const ended = step.kind === 'fail' ? await inSpan(`undo ${step.undo}`, {}, () => this.end(b, row, step)) : await this.end(b, row, step);
        return { ...ended, commands: b.commands.length };
      }
      await this.complete(b);
      return { outcome: 'committed', commands: b.commands.length, unsettled: watching(b) };
    } catch (e) {
      // A fault in the bookkeeping itself (the database went away mid-batch): nobody is left waiting.
      this.d.logger.error({ err: e, operation: b.operation }, 'batch failed unexpectedly');
      await b.tx?.rollback().catch(() => undefined);
      noteAudits(b, AuditOutcome.ROLLED_BACK, 'the batch failed unexpectedly (details in the log)');
      for (const m of members) m.reject(e);
      return { outcome: 'failed', commands: b.commands.length, unsettled: true };
    } finally {
      // A whole-config load leaves the router as the file says: the next batch reads it whole.
      if (b.loadFile) this.d.picture.invalidate();
      await b.release?.().catch((e: unknown) => this.d.logger.error({ err: e }, 'could not release the router lock'));
    }
  }

  private async replan(b: Batch, whole: boolean): Promise<void> {
    await b.tx!.rollback();
    b.tx = await this.d.store.begin();
    b.preparing = b.accepted.map((a) => a.member);
    b.accepted = [];
    b.avoided.clear();
    b.replans++;
    if (whole) {
      b.before = await this.d.picture.readWhole(this.d.router);
      b.whole = true;
    }
  }

  /** A row ended the batch early: finish it, or undo it by its path. */
  private async end(b: Batch, row: StageRow, step: Exclude<Step, { kind: 'next' | 'replan' }>): Promise<{ outcome: BatchOutcome; unsettled: boolean }> {
    const { store, recorder } = this.d;
    if (step.kind === 'finish') {
      if (step.outcome === 'dry-run') {
        await b.tx!.rollback();
        noteAudits(b, AuditOutcome.DRY_RUN, null);
      } else await commitBatch(b, this.d);
      await this.complete(b);
      return { outcome: 'noop', unsettled: watching(b) };
    }
    if (step.kind === 'split') {
      await this.stopTimer(b);
      await b.tx!.rollback();
      if (b.entry) await store.markJournal(b.entry, OperationState.ROLLED_BACK, 'router refused the batch; its change sets are retried one by one');
      this.d.logger.warn({ changeSets: b.accepted.length }, 'router rejected a batch; retrying its change sets one by one');
      return { outcome: 'split', unsettled: false };
    }
    // Before the prepare stage every member is still waiting; after it, only the accepted ones.
    // A failed `/config-file load` leaves the router's one shared session dirty (vyos-api.md §2):
    // clean it before anything else reads or commits through it.
    if (b.loadFile && row.name === StageName.ROUTER_COMMIT) await this.d.router.discardSession().catch((e: unknown) => this.d.logger.error({ err: e }, 'could not discard the router session after a failed load'));
    const failed = STAGES.indexOf(row) < STAGES.findIndex((r) => r.name === StageName.PREPARE) ? b.members : b.accepted.map((a) => a.member);
    const stage = row.rollbackStage ?? RollbackStage.ROUTER_COMMIT;
    let error = step.error;
    let unsettled = false;
    if (step.undo === UndoPath.RELEASE) {
      await b.tx?.rollback();
      if (b.entry) await store.markJournal(b.entry, OperationState.ROLLED_BACK, step.reason);
    } else if (step.undo === UndoPath.DISCARDED) {
      await this.stopTimer(b);
      await b.tx!.rollback();
      if (b.entry) await store.markJournal(b.entry, OperationState.ROLLED_BACK, step.reason);
      await recorder.record({ operation: b.operation, stage, reason: step.reason, outcome: RollbackOutcome.ROLLED_BACK, commands: b.commands });
    } else {
      // The database rolls back first (it releases row locks); the router lock stays held.
      await b.tx!.rollback();
      const undo = await this.revert(b);
      unsettled = !undo.settled;
      if (b.entry) await store.markJournal(b.entry, undo.settled ? OperationState.ROLLED_BACK : OperationState.UNDO_PENDING, b.lateWrite ? `${step.reason}; ${LATE_WRITE}` : step.reason);
      if (undo.outcome === RollbackOutcome.ROLLBACK_FAILED) {
        await store.markNeedsRepair(touchedRuleNumbers(b.commands)).catch((e: unknown) => this.d.logger.error({ err: e }, 'could not mark rules as needing repair'));
        error = rollbackFailed(`${error?.message ?? step.reason}; undoing it on the router also failed, the affected rules need repair (see syncReport; the undo is retried)`);
      }
      await recorder.record({ operation: b.operation, stage, reason: step.reason, outcome: undo.outcome, commands: b.commands });
    }
    noteAudits(b, AuditOutcome.ROLLED_BACK, step.reason);
    if (error) for (const m of failed) m.reject(error);
    return { outcome: 'failed', unsettled };
  }

  /** The batch's data is committed: answer the clients (unless the database commit did), then record what resumed entries settled as. */
  private async complete(b: Batch): Promise<void> {
    answer(b);
    for (const s of b.settlements) {
      if (s.state === 'watching') continue;
      if (s.event) await this.d.recorder.record(s.event);
      this.d.logger.warn({ operationId: s.row.id, operation: s.row.operation, state: s.row.state, settlement: s.state }, 'settled an unfinished operation');
    }
  }

  /** The REVERT path (REVERT_STEPS): put the touched rules back as before, holding the router lock. */
  private async revert(b: Batch): Promise<{ outcome: RollbackOutcome; settled: boolean }> {
    if (b.loadFile) {
      // A whole-config load has no inverse of ours: the router's own revert is the way back.
      return { outcome: b.timerArmed ? RollbackOutcome.AUTO_REVERTED : RollbackOutcome.ROLLBACK_FAILED, settled: true };
    }
    // The write we gave up on may still commit; the router serialises writes (vyos-api.md §6), so
    // an undo computed as if it had applied lands after it.
    const { back, sent } = await putBack(b, this.d, b.lateWrite);
    if (back) {
      if (!(await this.stopTimer(b))) return { outcome: RollbackOutcome.AUTO_REVERTED, settled: false };
      // A late write is checked again later: the resume makes the router agree if it landed after all.
      return { outcome: !sent && b.sentWithTimer ? RollbackOutcome.AUTO_REVERTED : RollbackOutcome.ROLLED_BACK, settled: !b.lateWrite };
    }
    // Under commit-confirm the router reverts by itself when the confirm never comes.
    return { outcome: b.timerArmed ? RollbackOutcome.AUTO_REVERTED : RollbackOutcome.ROLLBACK_FAILED, settled: false };
  }

  /** Stops a timer of ours (confirm, retried); true when none of ours is left running. */
  private async stopTimer(b: Batch): Promise<boolean> {
    if (!b.timerArmed) return true;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep((this.d.rereadMs ?? 200) * 2 ** attempt);
      try {
        await this.d.router.confirm();
        b.timerArmed = false;
        return true;
      } catch (e) {
        this.d.logger.warn({ err: e, operation: b.operation }, 'could not stop our commit-confirm timer');
      }
    }
    return false;
  }
}

/** A resumed journal entry's outcome, decided in the batch transaction and recorded after it. */
interface Settlement {
  row: JournalRow;
  /** `watching`: the router agrees now, but a late write of the entry may still land; not settled yet */
  state: 'completed' | 'reverted' | 'auto-reverted' | 'not-applied' | 'repaired' | 'agreed' | 'watching';
  event: Parameters<RollbackRecorder['record']>[0] | null;
}

/** Resolves every accepted change set with its result, once. */
function answer(b: Batch): void {
  if (b.answered) return;
  b.answered = true;
  for (const { member, prepared } of b.accepted) {
    member.resolve(member.set.complete ? member.set.complete(prepared.result, { snapshot: b.snapshot, commands: b.commands }) : prepared.result);
  }
}

const watching = (b: Batch) => b.settlements.some((s) => s.state === 'watching');

/** Commits the batch: the journal row and the resumed entries' states commit with its data. */
async function commitBatch(b: Batch, d: TransactionDeps): Promise<void> {
  const tx = b.tx!;
  b.settlements = [];
  for (const { member, prepared } of b.accepted) {
    const row = member.set.resumes;
    if (!row) continue;
    const s = settlementOf(row, prepared.intents, b, d);
    b.settlements.push(s);
    if (s.state === 'watching') continue;
    await tx.markJournal(row.id, s.state === 'completed' ? OperationState.DONE : OperationState.ROLLED_BACK, s.state === 'completed' ? null : s.event?.reason ?? 'the router agrees with the database');
    await tx.clearNeedsRepair(prepared.intents.map((i) => i.ruleNumber));
  }
  if (b.entry) await tx.markJournal(b.entry, OperationState.DONE);
  // The answer does not wait for the save: should this process stop first, the row says a save is owed.
  if (b.save) await tx.markSaveOwed();
  // A committed change's audit row commits with it, and only then counts as written.
  const audited = b.accepted.filter((a) => a.member.audit && !a.member.audit.written);
  if (audited.length > 0 && tx.recordAudit) {
    await tx.recordAudit(audited.map(({ member, prepared }) => {
      const rules = prepared.intents.map((i) => i.ruleNumber);
      return { row: rowOf(member.audit!, AuditOutcome.COMMITTED, { commands: commandsFor(b.commands, rules), batchId: b.id }), result: prepared.result, ruleNumbers: rules };
    }));
  }
  await tx.commit();
  for (const { member } of audited) member.audit!.written = true;
}

/** Notes on the accepted members' audit drafts how the batch ended without a commit (their rows are written after it). */
function noteAudits(b: Batch, outcome: AuditOutcome.ROLLED_BACK | AuditOutcome.DRY_RUN, reason: string | null): void {
  for (const { member, prepared } of b.accepted) {
    if (!member.audit || member.audit.written) continue;
    member.audit.batch = { outcome, reason, commands: commandsFor(b.commands, prepared.intents.map((i) => i.ruleNumber)), batchId: b.id };
  }
}

/** Marks a journal row whose write was given up on: the router may still commit it (vyos-api.md §6). */
export const LATE_WRITE = 'the write was given up on and may still commit on the router';

function settlementOf(row: JournalRow, goal: RuleIntent[], b: Batch, d: TransactionDeps): Settlement {
  const rules = new Set(goal.map((g) => g.ruleNumber));
  const sent = touchedRuleNumbers(b.commands).some((n) => rules.has(n));
  const event = (outcome: RollbackOutcome, reason: string) => ({ operation: row.operation, stage: stageOf(row.state), reason, outcome, commands: row.commands });
  // A late write can land after the router first agrees: keep watching it (VYOS_LATE_WRITE_WATCH_SECONDS).
  if (row.error?.includes(LATE_WRITE) && Date.now() < row.createdAt.getTime() + d.config.vyosLateWriteWatchMs) return { row, state: 'watching', event: null };
  if (row.state === OperationState.UNDO_PENDING) {
    // Its failure was recorded when it happened; a completed undo is news, the router's own revert is not.
    return sent ? { row, state: 'repaired', event: event(RollbackOutcome.ROLLED_BACK, 'the undo owed since the change failed was completed on the router') } : { row, state: 'agreed', event: null };
  }
  // The database is the truth: its transaction either committed or not.
  if (verifyIntents(goal, stateAfter(row.commands)).length === 0) return { row, state: 'completed', event: null };
  if (sent) return { row, state: 'reverted', event: event(RollbackOutcome.ROLLED_BACK, 'the process died during the change; undone on the router') };
  if (row.confirmDeadline) {
    const seen = b.resumeSeen.has(row.id) || row.state !== OperationState.PENDING;
    const how = seen ? 'the router reverted the unconfirmed commit by itself' : 'the router does not have it: it reverted the unconfirmed commit by itself, or the commit never reached it';
    return { row, state: 'auto-reverted', event: event(RollbackOutcome.AUTO_REVERTED, `the process died during the change; ${how}`) };
  }
  return { row, state: 'not-applied', event: event(RollbackOutcome.ROLLED_BACK, 'the process died during the change; the change never reached the router') };
}

function stageOf(state: OperationState): RollbackStage {
  if (state === OperationState.CONFIRMED) return RollbackStage.DATABASE_COMMIT;
  if (state === OperationState.ROUTER_COMMITTED) return RollbackStage.ROUTER_CONFIRM;
  return RollbackStage.ROUTER_COMMIT;
}

/** The rules a batch touches: its intents' numbers and every number its commands name. */
function touched(b: Batch): number[] {
  return [...new Set([...b.intents.map((i) => i.ruleNumber), ...touchedRuleNumbers(b.commands)])];
}

/** The touched rules, re-read a few times with back-off; null when the router never answered. */
async function reread(d: TransactionDeps, numbers: number[]): Promise<ReadonlyMap<number, RouterRule> | null> {
  for (let attempt = 0; attempt < 4; attempt++) {
    if (attempt > 0) await sleep((d.rereadMs ?? 200) * 2 ** attempt);
    try {
      return await d.picture.readRules(d.router, numbers);
    } catch (e) {
      d.logger.warn({ err: e }, 'could not read the router; retrying');
    }
  }
  return null;
}

/**
 * After a lost reply: read the router until the touched rules show the intent (applied) or
 * still show the old state after a few reads (not applied). Anything else is uncertain.
 */
async function settle(b: Batch, d: TransactionDeps): Promise<'applied' | 'not-applied' | 'uncertain'> {
  let unchanged = 0;
  for (let attempt = 0; attempt < 6; attempt++) {
    if (attempt > 0) await sleep((d.rereadMs ?? 50) * 2 ** attempt);
    const now = await d.picture.readRules(d.router, touched(b)).catch(() => null);
    if (!now) continue;
    if (verifyIntents(b.intents, now).length === 0) return 'applied';
    // A commit still running on the router shows the old state: give it a few reads. After our own
    // timeout it may still be queued behind the router's write lock: never "not applied" then (§6).
    if (!b.lateWrite && unchangedSince(b.intents, b.before, now) && ++unchanged >= 3) return 'not-applied';
  }
  return 'uncertain';
}

/**
 * Confirms the timer this batch armed. "No confirm pending" to the first confirm means the window
 * ended first (vyos-api.md §4); a lost reply is retried once, and "No confirm pending" then means
 * the first one took, unless the deadline has passed.
 */
async function confirmTimer(d: TransactionDeps, deadline: Date | null): Promise<'confirmed' | 'expired' | Error> {
  const expired = (reply: string) => /no confirm pending/i.test(reply);
  try {
    return expired(await d.router.confirm()) ? 'expired' : 'confirmed';
  } catch (e) {
    if (!(e instanceof RouterError) || e.kind !== RouterErrorKind.OUTCOME_UNKNOWN) return e instanceof Error ? e : new Error(String(e));
    try {
      const reply = await d.router.confirm();
      return expired(reply) && deadline !== null && Date.now() >= deadline.getTime() ? 'expired' : 'confirmed';
    } catch (again) {
      return again instanceof Error ? again : new Error(String(again));
    }
  }
}

export function describe(e: unknown): string {
  if (e instanceof RouterError) return e.details.routerMessage ? e.details.routerMessage.trim() : e.message;
  return e instanceof Error ? e.message : String(e);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

