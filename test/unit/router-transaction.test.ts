// The router transaction's stage table (src/changes/transaction.ts) run over scripted in-memory
// doubles of the project's own interfaces: a RouterApi (test/support/scripted-router.ts) and a
// ChangeStore (test/support/memory-store.ts). Each test checks the client's answer, the journal
// states of the batch's row, the rollback records, the router call sequence and the router lock.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchQueue } from '../../src/changes/batch-queue';
import type { ChangeSet } from '../../src/changes/change-set';
import type { JournalRow } from '../../src/changes/change-store';
import type { RollbackEventPayload } from '../../src/changes/events';
import { resumeEntry } from '../../src/changes/recovery';
import { RollbackRecorder } from '../../src/changes/rollback-recorder';
import { RouterPicture } from '../../src/changes/router-picture';
import { RouterTransaction, STAGES, StageName, UndoPath, type BatchOutcome, type Member } from '../../src/changes/transaction';
import { loadConfig } from '../../src/config';
import { FINISHED_STATES, OperationState, Protocol, RollbackOutcome, RollbackStage } from '../../src/domain/entities/index';
import { AppError, ErrorCode, conflict } from '../../src/domain/errors';
import { createLogger } from '../../src/observability/logger';
import { renderDelete, renderRule } from '../../src/vyos/nat-rule';
import { RouterError, RouterErrorKind, type RouterCommand, type RouterRule } from '../../src/vyos/types';
import { MemoryStore, type DbRule } from '../support/memory-store';
import { rule } from '../support/router-rules';
import { ScriptedRouter } from '../support/scripted-router';

const { PENDING, ROUTER_COMMITTED: COMMITTED, CONFIRMED, DONE, ROLLED_BACK, UNDO_PENDING } = OperationState;
// Saving and busy waits are off unless a test turns them on: the call sequences below are the transaction's own.
const config = loadConfig({ LOG_LEVEL: 'silent', VYOS_SAVE: 'off', VYOS_BUSY_WAIT_SECONDS: '0' });
const logger = createLogger('silent');

const web = rule(10000);
const api = rule(10001, { externalPort: '32001' });
/** web as the database holds it (expectedRouterRule of this row is `web`) */
const webRow: DbRule = { ruleNumber: 10000, protocol: Protocol.TCP, externalPort: 32000, internalPort: 80, description: 'vm web', enabled: true, vm: { name: 'web', internalIp: '192.168.64.100' } };

type Answer = { value: unknown } | { error: unknown } | { waiting: true };

function rig(opts: { commitConfirm?: boolean; rules?: RouterRule[]; env?: Record<string, string> } = {}) {
  const cfg = opts.env ? loadConfig({ LOG_LEVEL: 'silent', VYOS_SAVE: 'off', VYOS_BUSY_WAIT_SECONDS: '0', ...opts.env }) : config;
  const store = new MemoryStore(config.wanInterface);
  const router = new ScriptedRouter(() => store.locked);
  router.caps = { ...router.caps, commitConfirm: opts.commitConfirm ?? true };
  router.setRules(opts.rules ?? []);
  const events: RollbackEventPayload[] = [];
  const recorder = new RollbackRecorder({ store, events: { rollback: async (e) => void events.push(e) }, logger });
  const picture = new RouterPicture({ wanInterface: cfg.wanInterface, maxAgeMs: 60_000 });
  const transaction = new RouterTransaction({ router, picture, store, recorder, config: cfg, logger, rereadMs: 1, revertGraceMs: 20 });
  /** One batch of these change sets through the runner. */
  async function run(...sets: ChangeSet<unknown>[]) {
    const answers: Answer[] = sets.map(() => ({ waiting: true }));
    const members: Member[] = sets.map((set, i) => ({ set, resolve: (value) => (answers[i] = { value }), reject: (error) => (answers[i] = { error }) }));
    const result = await transaction.run(members);
    return { ...result, answers };
  }
  return { store, router, events, transaction, run, picture };
}
type Rig = ReturnType<typeof rig>;

function addRule(r: RouterRule, extra: Partial<ChangeSet<unknown>> = {}): ChangeSet<unknown> {
  return { operation: 'addPortRule', prepare: async () => ({ intents: [{ ruleNumber: r.ruleNumber, desired: r }], result: `id-${r.ruleNumber}` }), ...extra };
}

const rejected = (routerMessage: string) => new RouterError(RouterErrorKind.REJECTED, `HTTP 400: rejected: ${routerMessage}`, { status: 400, routerMessage });
const unreachable = () => new RouterError(RouterErrorKind.UNREACHABLE, 'connect ECONNREFUSED');
const lost = () => new RouterError(RouterErrorKind.OUTCOME_UNKNOWN, 'write timed out: the outcome is unknown');
const busy = (routerMessage: string) => new RouterError(RouterErrorKind.BUSY, `HTTP 400: rejected: ${routerMessage}`, { status: 400, routerMessage });
const commitFailed = 'Destination NAT configuration error in rule 10000: translation requires address and/or port\n\n[[nat]] failed\nCommit failed\n';
/** a configure that commits something other than what was sent (the read-back will differ) */
const commitsOtherwise = (c: RouterCommand[], o: { confirmMinutes?: number }, r: ScriptedRouter) =>
  r.commit(renderRule({ ...web, internalPort: '81' }, { syntax: '1.4' }), o);

function value(a: Answer): unknown {
  assert.ok('value' in a, `expected a resolved answer, got ${'error' in a ? String(a.error) : 'none'}`);
  return a.value;
}

function code(a: Answer): string {
  assert.ok('error' in a, `expected an error, got ${JSON.stringify(a)}`);
  return a.error instanceof AppError ? a.error.code : `internal: ${(a.error as Error).message}`;
}

const records = (t: Rig) => t.store.rollbacks.map((r) => `${r.stage} ${r.outcome}`);

/** Every router call was made under the router lock, the lock is released, the batch transaction ended. */
function assertLock(t: Rig): void {
  for (const [i, c] of t.router.calls.entries()) assert.ok(c.locked, `router call #${i} (${c.method}) was made without the router lock`);
  assert.equal(t.store.lockDepth, 0, 'the router lock is released at the end');
  assert.equal(t.store.strayReleases, 0, 'the lock is released once');
  for (const tx of t.store.txs) assert.notEqual(tx.state, 'open', 'the batch transaction ended');
}

const declared = (name: StageName) => STAGES.find((s) => s.name === name)!.onFailure;

describe('router transaction: the happy path', () => {
  it('with commit-confirm: configure with confirm_time, read back, confirm, then the database commit', async () => {
    const t = rig();
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.equal(r.outcome, 'committed');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm']);
    assert.deepEqual(t.router.calls[2].commands, renderRule(web, { syntax: '1.4' }));
    assert.deepEqual(t.router.calls[2].options, { confirmMinutes: config.confirmMinutes });
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    const [entry] = t.store.journal.values();
    assert.ok(entry.confirmDeadline && entry.confirmDeadline.getTime() > Date.now(), 'the journal row carries the confirm deadline');
    assert.deepEqual(records(t), []);
    assert.equal(t.store.txs[0].state, 'committed');
    assert.deepEqual([...t.router.rules().values()], [web]);
    assert.equal(t.router.timerArmed, false);
    assertLock(t);
  });

  it('without commit-confirm: a plain commit and no confirm', async () => {
    const t = rig({ commitConfirm: false });
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, DONE]]);
    assert.equal([...t.store.journal.values()][0].confirmDeadline, null);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  it('a critical change saves a snapshot before it is sent; the snapshot row commits with the batch', async () => {
    const t = rig({ commitConfirm: false });
    const r = await t.run(addRule(web, { critical: true }));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'saveConfigFile', 'configure', 'showConfig']);
    assert.equal(t.store.snapshots.length, 1);
    assert.equal(t.store.snapshots[0].operation, 'addPortRule');
    assertLock(t);
  });

  it('plan branches: a dry run writes nothing and rolls back; nothing to send commits with no journal row', async () => {
    const dry = rig();
    assert.equal(value((await dry.run(addRule(web, { dryRun: true }))).answers[0]), 'id-10000');
    assert.deepEqual(dry.router.sequence(), ['capabilities', 'showConfig']);
    assert.equal(dry.store.txs[0].state, 'rolled back');
    assert.deepEqual(dry.store.batchRows(), []);
    assertLock(dry);

    const noop = rig({ rules: [web] });
    const r = await noop.run(addRule(web));
    assert.equal(r.outcome, 'noop');
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(noop.router.sequence(), ['capabilities', 'showConfig']);
    assert.equal(noop.store.txs[0].state, 'committed');
    assert.deepEqual(noop.store.batchRows(), []);
    assertLock(noop);
  });
});

describe("router transaction: every stage's failure takes its undo path", () => {
  const covered = new Set<StageName>();
  /** Stages whose failure cannot be scripted, with the reason. None so far. */
  const unscriptable = new Map<StageName, string>();
  let registered = 0;
  let ran = 0;
  const stage = (name: StageName, title: string, fn: () => Promise<void>) => {
    registered++;
    return it(`${name}: ${title}`, async () => {
      ran++;
      covered.add(name);
      await fn();
    });
  };

  after(() => {
    if (ran < registered) return; // a filtered run (--test-name-pattern) cannot judge coverage
    const expected = STAGES.map((s) => s.name).filter((n) => !unscriptable.has(n));
    assert.deepEqual([...covered].sort(), [...expected].sort(), 'every stage of STAGES has a failure test (or is listed as unscriptable with a reason)');
  });

  stage(StageName.SAVE, 'after the database commit the running config is saved; a failed save keeps the change, is recorded and answers success', async () => {
    assert.equal(declared(StageName.SAVE), UndoPath.NONE);
    const ok = rig({ env: { VYOS_SAVE: 'on' } });
    assert.equal(value((await ok.run(addRule(web))).answers[0]), 'id-10000');
    assert.deepEqual(ok.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'saveBootConfig']);
    assert.deepEqual(ok.store.saves, [{ ok: true }]);
    assertLock(ok);

    const t = rig({ env: { VYOS_SAVE: 'on' } });
    t.router.script.saveBootConfig.push(rejected('Saving failed: no space left on device'));
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000', 'a correct change is not undone for a failed save');
    assert.ok(t.router.rules().has(10000));
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    assert.deepEqual(t.store.saves, [{ ok: false, error: 'Saving failed: no space left on device' }]);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  stage(StageName.SAVE, 'the clients are answered at the database commit, before the save; a batch with a change set that asks for the save is answered after it', async () => {
    const order = async (...sets: ChangeSet<unknown>[]) => {
      const t = rig({ env: { VYOS_SAVE: 'on' } });
      const seen: string[] = [];
      t.router.script.saveBootConfig.push(() => (seen.push(t.store.saveOwedFlag ? 'save (owed)' : 'save (not owed)'), ''));
      const members: Member[] = sets.map((set) => ({ set, resolve: () => seen.push(`answer ${set.operation}`), reject: (e) => seen.push(`error ${String(e)}`) }));
      await t.transaction.run(members);
      assert.equal(t.store.saveOwedFlag, false, 'the save clears what the batch owed');
      return seen;
    };
    // The committed batch records the save it owes: a process stopping before it leaves that behind.
    assert.deepEqual(await order(addRule(web)), ['answer addPortRule', 'save (owed)']);
    const saveOnly: ChangeSet<unknown> = { operation: 'save', save: true, prepare: async () => ({ intents: [], result: null }) };
    assert.deepEqual(await order(saveOnly), ['save (owed)', 'answer save']);
    assert.deepEqual(await order(addRule(web), saveOnly), ['save (owed)', 'answer addPortRule', 'answer save']);
  });

  stage(StageName.SAVE, 'VYOS_SAVE=off sends no save; a save retry with nothing to send runs the save stage alone', async () => {
    const off = rig();
    await off.run(addRule(web));
    assert.ok(!off.router.sequence().includes('saveBootConfig'));
    const t = rig({ env: { VYOS_SAVE: 'on' } });
    const r = await t.run({ operation: 'save', save: true, prepare: async () => ({ intents: [], result: null }) });
    assert.equal(value(r.answers[0]), null);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'saveBootConfig']);
    assert.deepEqual(t.store.batchRows(), [], 'nothing sent, no journal row');
    assertLock(t);
  });

  stage(StageName.LOCK, 'the lock cannot be taken: the client gets the error, nothing is touched', async () => {
    assert.equal(declared(StageName.LOCK), UndoPath.RELEASE);
    const t = rig();
    t.store.fail.lockRouter = new Error('advisory lock: connection lost');
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), 'internal: advisory lock: connection lost');
    assert.deepEqual(t.router.sequence(), []);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assert.equal(t.store.lockCount, 0);
    assertLock(t);
  });

  stage(StageName.LOCK, 'the batch transaction cannot begin: the lock taken is released', async () => {
    const t = rig();
    t.store.fail.begin = new Error('pool exhausted');
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), 'internal: pool exhausted');
    assert.equal(t.store.lockCount, 1);
    assert.deepEqual(t.router.sequence(), []);
    assertLock(t);
  });

  stage(StageName.READ_ROUTER, 'the router cannot be read: ROUTER_UNAVAILABLE, no journal row, nothing written', async () => {
    assert.equal(declared(StageName.READ_ROUTER), UndoPath.RELEASE);
    const t = rig();
    t.router.script.showConfig.push(unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.router.writes(), []);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assert.equal(t.store.txs[0].state, 'rolled back');
    assertLock(t);
  });

  stage(StageName.AWAIT_OWN_TIMER, "a re-read while waiting for the router's own revert fails: the entry stays as it was, nothing written", async () => {
    assert.equal(declared(StageName.AWAIT_OWN_TIMER), UndoPath.RELEASE);
    const t = rig({ rules: [web] });
    const row = t.store.addEntry({ operation: 'addPortRule', state: COMMITTED, commands: renderRule(web, { syntax: '1.4' }), confirmDeadline: new Date(Date.now() + 60_000) });
    t.router.script.showConfig.push((p, r) => r.natDestination(), unreachable());
    const r = await t.run(resumeEntry(row));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [COMMITTED]);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  stage(StageName.READ_TOUCHED, 'with a fresh picture only the touched rule is read; that read failing: ROUTER_UNAVAILABLE, nothing written', async () => {
    assert.equal(declared(StageName.READ_TOUCHED), UndoPath.RELEASE);
    const t = rig({ rules: [api] });
    await t.picture.readWhole(t.router);
    t.router.calls.length = 0;
    const paths: string[][] = [];
    t.router.script.showConfig.push((p) => {
      paths.push(p);
      throw unreachable();
    });
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(paths, [['nat', 'destination', 'rule', '10000']], 'one read of the touched rule, not of the whole tree');
    assert.deepEqual(t.router.writes(), []);
    assert.deepEqual(t.store.batchRows(), []);
    assert.equal(t.store.txs[0].state, 'rolled back');
    assertLock(t);
  });

  stage(StageName.READ_TOUCHED, 'a rule the picture does not know sits on a touched number: the change sets are prepared again from the corrected picture, then sent', async () => {
    const t = rig();
    await t.picture.readWhole(t.router);
    t.router.calls.length = 0;
    // Someone adds rule 10000 by hand after the picture was taken.
    const foreign = rule(10000, { externalPort: '40000', description: 'by hand' });
    t.router.setRules([foreign]);
    const seen: (RouterRule | undefined)[] = [];
    const r = await t.run(addRule(web, { prepare: async (ctx) => (seen.push(ctx.routerRules.get(10000)), { intents: [{ ruleNumber: 10000, desired: web }], result: 'id-10000' }) }));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.equal(seen.length, 2, 'prepared twice');
    assert.equal(seen[0], undefined, 'first from the stale picture');
    assert.equal(seen[1]?.description, 'by hand', 'then from the picture the touched read corrected');
    assert.equal(t.store.txs[0].state, 'rolled back', 'the first preparation was rolled back');
    assert.deepEqual(t.router.writes().length, 2, 'one commit and its confirm');
    assertLock(t);
  });

  stage(StageName.PREPARE, 'one of two change sets fails to prepare: it fails alone, the other commits', async () => {
    assert.equal(declared(StageName.PREPARE), UndoPath.RELEASE);
    const t = rig({ commitConfirm: false });
    const taken = addRule(api, { prepare: async () => Promise.reject(conflict('externalPort: this external port is already forwarded for that protocol')) });
    const r = await t.run(addRule(web), taken);
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.equal(code(r.answers[1]), ErrorCode.CONFLICT);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.router.calls[2].commands, renderRule(web, { syntax: '1.4' }));
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, DONE]]);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  stage(StageName.PREPARE, 'every change set fails to prepare: nothing is written', async () => {
    const t = rig();
    const bad = addRule(web, { prepare: async () => Promise.reject(conflict('taken')) });
    const r = await t.run(bad, bad);
    assert.deepEqual(r.answers.map(code), [ErrorCode.CONFLICT, ErrorCode.CONFLICT]);
    assert.equal(r.outcome, 'failed');
    assert.deepEqual(t.router.writes(), []);
    assert.deepEqual(t.store.batchRows(), []);
    assertLock(t);
  });

  stage(StageName.PLAN, 'a command the allow-list guard refuses: BAD_USER_INPUT, nothing written', async () => {
    assert.equal(declared(StageName.PLAN), UndoPath.RELEASE);
    const t = rig();
    const r = await t.run(addRule({ ...web, description: 'say "hi"' }));
    assert.equal(code(r.answers[0]), ErrorCode.BAD_USER_INPUT);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), []);
    assert.equal(t.store.txs[0].state, 'rolled back');
    assertLock(t);
  });

  stage(StageName.SNAPSHOT, 'the snapshot of a critical change fails: nothing is sent', async () => {
    assert.equal(declared(StageName.SNAPSHOT), UndoPath.RELEASE);
    const t = rig();
    t.router.script.saveConfigFile.push(unreachable());
    const r = await t.run(addRule(web, { critical: true }));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'saveConfigFile']);
    assert.deepEqual(t.store.snapshots, []);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  stage(StageName.JOURNAL, 'the journal row cannot be written: nothing is sent', async () => {
    assert.equal(declared(StageName.JOURNAL), UndoPath.RELEASE);
    const t = rig();
    t.store.fail.startJournal = new Error('insert into operation: connection lost');
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), 'internal: insert into operation: connection lost');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), []);
    assert.equal(t.store.txs[0].state, 'rolled back');
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'the router refuses the commit: DISCARDED, ROLLED_BACK at ROUTER_COMMIT, ROUTER_REJECTED', async () => {
    const t = rig({ commitConfirm: false });
    t.router.script.configure.push(rejected(commitFailed));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.equal((r.answers[0] as { error: AppError }).error.extensions['routerMessage'], commitFailed);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_COMMIT ROLLED_BACK']);
    assert.equal(t.events.length, 1);
    assert.deepEqual(t.router.rules(), new Map());
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'a refused batch of two is split through the queue and each change set retried alone', async () => {
    const t = rig({ commitConfirm: false });
    t.router.script.configure.push(rejected(commitFailed), (c, o, r) => r.commit(c, o), rejected(commitFailed));
    const outcomes: BatchOutcome[] = [];
    const queue = new BatchQueue({ windowMs: 0, max: 10, run: (members) => t.transaction.run(members), onBatch: (b) => outcomes.push(b.outcome) });
    const answers = await Promise.allSettled([queue.submit(addRule(web)), queue.submit(addRule(api))]);
    await queue.drained();
    assert.deepEqual(answers[0], { status: 'fulfilled', value: 'id-10000' });
    assert.equal(answers[1].status === 'rejected' && (answers[1].reason as AppError).code, ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(outcomes, ['committed', 'failed', 'split']);
    assert.deepEqual(t.router.sequence(), [
      ...['capabilities', 'showConfig', 'configure'],
      ...['capabilities', 'showConfig', 'configure', 'showConfig'],
      ...['capabilities', 'showConfig', 'configure'],
    ]);
    assert.equal(t.router.calls[2].commands!.length, renderRule(web, { syntax: '1.4' }).length + renderRule(api, { syntax: '1.4' }).length);
    assert.deepEqual(t.store.batchRows(), [[PENDING, ROLLED_BACK], [PENDING, COMMITTED, DONE], [PENDING, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_COMMIT ROLLED_BACK'], 'only the offender is recorded');
    assert.deepEqual([...t.router.rules().keys()], [10000]);
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'the router cannot be reached: RELEASE, no rollback event', async () => {
    const t = rig();
    t.router.script.configure.push(unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, ROLLED_BACK]]);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'the reply is lost but the commit applied: the batch goes on', async () => {
    const t = rig();
    t.router.script.configure.push((c, o, r) => {
      r.commit(c, o);
      throw lost();
    });
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'showConfig', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    assert.deepEqual(records(t), []);
    assert.equal(t.router.timerArmed, false, 'the timer the lost commit armed is confirmed');
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'the reply is lost and the router shows no change: it may still commit (vyos-api.md §6), so it is undone as if applied and the row stays UNDO_PENDING', async () => {
    const t = rig();
    t.router.script.configure.push(lost());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    // 6 settle reads never decide "not applied"; the undo deletes the rule the late commit would add
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', ...Array(6).fill('showConfig'), 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.router.calls[10].commands, [{ op: 'delete', path: ['nat', 'destination', 'rule', '10000'] }]);
    assert.deepEqual(t.store.batchRows(), [[PENDING, UNDO_PENDING]]);
    assert.deepEqual(records(t), ['ROUTER_COMMIT ROLLED_BACK']);
    assert.equal(r.unsettled, true, 'resumed later, when a late commit would have landed');
    assertLock(t);
  });

  stage(StageName.ROUTER_COMMIT, 'the reply is lost and the router stops answering: REVERT; without commit-confirm ROLLBACK_FAILED', async () => {
    assert.equal(declared(StageName.ROUTER_COMMIT), UndoPath.REVERT);
    const t = rig({ commitConfirm: false });
    t.router.script.configure.push(lost());
    t.router.script.showConfig.push((p, r) => r.natDestination(), ...Array.from({ length: 10 }, unreachable));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROLLBACK_FAILED);
    // 6 settle reads, then 4 reads of the undo; none answered
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', ...Array(10).fill('showConfig')]);
    assert.deepEqual(t.store.batchRows(), [[PENDING, UNDO_PENDING]]);
    assert.deepEqual(records(t), ['ROUTER_COMMIT ROLLBACK_FAILED']);
    assert.deepEqual([...t.store.needsRepair], [10000]);
    assert.equal(r.unsettled, true);
    assertLock(t);
  });

  stage(StageName.VERIFY, 'the read-back differs from the intent: REVERT, undo sent, ROLLED_BACK at ROUTER_VERIFY', async () => {
    assert.equal(declared(StageName.VERIFY), UndoPath.REVERT);
    const t = rig();
    t.router.script.configure.push(commitsOtherwise);
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'showConfig', 'configure', 'showConfig', 'confirm']);
    assert.deepEqual(t.router.calls[5].commands, [renderDelete(10000)], 'the undo puts rule 10000 back as it was: absent');
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY ROLLED_BACK']);
    assert.deepEqual(t.router.rules(), new Map());
    assert.equal(t.router.timerArmed, false);
    assertLock(t);
  });

  stage(StageName.VERIFY, 'the read-back fails on every retry: REVERT, ROUTER_UNAVAILABLE, the undo goes through once the router answers', async () => {
    const t = rig({ commitConfirm: false });
    t.router.script.showConfig.push((p, r) => r.natDestination(), ...Array.from({ length: 4 }, unreachable));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', ...Array(4).fill('showConfig'), 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY ROLLED_BACK']);
    assert.deepEqual(t.router.rules(), new Map());
    assertLock(t);
  });

  stage(StageName.CONFIRM, 'the confirm cannot be sent: REVERT, the undo and then our own timer stopped, ROLLED_BACK at ROUTER_CONFIRM', async () => {
    assert.equal(declared(StageName.CONFIRM), UndoPath.REVERT);
    const t = rig();
    t.router.script.confirm.push(unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'showConfig', 'configure', 'showConfig', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_CONFIRM ROLLED_BACK']);
    assert.equal(t.router.timerArmed, false);
    assertLock(t);
  });

  stage(StageName.DATABASE_COMMIT, 'the database commit fails after the confirm: REVERT at DATABASE_COMMIT', async () => {
    assert.equal(declared(StageName.DATABASE_COMMIT), UndoPath.REVERT);
    const t = rig();
    t.store.fail.commit = new Error('commit: connection terminated');
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), 'internal: commit: connection terminated');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['DATABASE_COMMIT ROLLED_BACK']);
    assert.deepEqual(t.router.rules(), new Map());
    assertLock(t);
  });
});

describe('router transaction: commit-confirm branches', () => {
  it('"Another confirm is pending" (a timer not ours): no confirm is sent; past VYOS_BUSY_WAIT_SECONDS a retryable ROUTER_UNAVAILABLE (reason ROUTER_BUSY), no event', async () => {
    const t = rig();
    t.router.script.configure.push(busy('Another confirm is pending\n'));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.equal((r.answers[0] as { error: AppError }).error.extensions.reason, 'ROUTER_BUSY');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, ROLLED_BACK]]);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  it('a busy router (commit lock held) is waited out: the commit is retried with back-off and goes through', async () => {
    const t = rig({ env: { VYOS_BUSY_WAIT_SECONDS: '5' } });
    t.router.script.configure.push(busy('Configuration system temporarily locked due to another commit in progress\n'), busy('Configuration system temporarily locked due to another commit in progress\n'));
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'configure+confirm_time', 'configure+confirm_time', 'showConfig', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    assertLock(t);
  });

  it('another rejection under commit-confirm: the timer June 2025 code leaves armed is stopped', async () => {
    const t = rig();
    t.router.script.configure.push(rejected(commitFailed));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_COMMIT ROLLED_BACK']);
    assertLock(t);
  });

  it('the confirm reply is lost, the retry answers "Reload timer stopped": DONE', async () => {
    const t = rig();
    t.router.script.confirm.push(lost());
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    assert.deepEqual(records(t), []);
    assert.equal(t.router.timerArmed, false);
    assertLock(t);
  });

  it('the confirm took but its reply is lost, the retry answers "No confirm pending" before the deadline: DONE', async () => {
    const t = rig();
    t.router.script.confirm.push((r) => {
      r.stopTimer();
      throw lost();
    });
    const r = await t.run(addRule(web));
    assert.equal(value(r.answers[0]), 'id-10000');
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, CONFIRMED, DONE]]);
    assert.deepEqual(records(t), []);
    assert.deepEqual([...t.router.rules().values()], [web]);
    assertLock(t);
  });

  it('"No confirm pending" to the first confirm: the router reverted by itself, AUTO_REVERTED at ROUTER_CONFIRM', async () => {
    const t = rig();
    t.router.script.confirm.push((r) => {
      r.expire();
      return 'No confirm pending';
    });
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'confirm', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_CONFIRM AUTO_REVERTED']);
    assert.deepEqual(t.router.rules(), new Map());
    assertLock(t);
  });

  it('the undo fails under commit-confirm: AUTO_REVERTED, UNDO_PENDING, no confirm (the router must revert by itself)', async () => {
    const t = rig();
    t.router.script.configure.push(commitsOtherwise, rejected(commitFailed));
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, UNDO_PENDING]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY AUTO_REVERTED']);
    assert.deepEqual([...t.store.needsRepair], []);
    assert.equal(t.router.timerArmed, true, 'our timer is left to revert the change');
    assert.equal(r.unsettled, true);
    assertLock(t);
  });

  it('the undo fails without commit-confirm: ROLLBACK_FAILED event and error, needs_repair, UNDO_PENDING', async () => {
    const t = rig({ commitConfirm: false });
    t.router.script.configure.push(commitsOtherwise, unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROLLBACK_FAILED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', 'showConfig', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, UNDO_PENDING]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY ROLLBACK_FAILED']);
    assert.deepEqual(t.events.map((e) => e.outcome), [RollbackOutcome.ROLLBACK_FAILED]);
    assert.deepEqual([...t.store.needsRepair], [10000]);
    assert.equal(r.unsettled, true);
    assertLock(t);
  });

  it('the confirm inside the undo fails once: retried, ROLLED_BACK', async () => {
    const t = rig();
    t.router.script.configure.push(commitsOtherwise);
    t.router.script.confirm.push(unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'showConfig', 'configure', 'showConfig', 'confirm', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, ROLLED_BACK]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY ROLLED_BACK']);
    assert.equal(t.router.timerArmed, false);
    assertLock(t);
  });

  it('the confirm inside the undo always fails: AUTO_REVERTED, UNDO_PENDING, never ROLLED_BACK', async () => {
    const t = rig();
    t.router.script.configure.push(commitsOtherwise);
    t.router.script.confirm.push(unreachable(), unreachable(), unreachable());
    const r = await t.run(addRule(web));
    assert.equal(code(r.answers[0]), ErrorCode.ROUTER_REJECTED);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure+confirm_time', 'showConfig', 'showConfig', 'configure', 'showConfig', 'confirm', 'confirm', 'confirm']);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, UNDO_PENDING]]);
    assert.deepEqual(records(t), ['ROUTER_VERIFY AUTO_REVERTED']);
    assert.equal(r.unsettled, true);
    assertLock(t);
  });
});

describe('router transaction: resuming a journal entry (recovery.ts resumeEntry)', () => {
  const entry = (t: Rig, state: OperationState, confirmDeadline: Date | null = null): JournalRow =>
    t.store.addEntry({ operation: 'addPortRule', state, commands: renderRule(web, { syntax: '1.4' }), confirmDeadline });

  it('the database has the change: DONE, no event, nothing sent', async () => {
    const t = rig({ rules: [web] });
    t.store.rows.set(10000, webRow);
    const row = entry(t, CONFIRMED);
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [CONFIRMED, DONE]);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  it('the router differs from the database: the commands that put it back are sent, ROLLED_BACK event', async () => {
    const t = rig({ commitConfirm: false, rules: [web] });
    const row = entry(t, COMMITTED);
    t.store.needsRepair.add(10000);
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.router.calls[2].commands, [renderDelete(10000)]);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [COMMITTED, ROLLED_BACK]);
    assert.deepEqual(t.store.batchRows(), [[PENDING, COMMITTED, DONE]]);
    assert.deepEqual(records(t), [`${RollbackStage.ROUTER_CONFIRM} ROLLED_BACK`]);
    assert.equal(t.store.rollbacks[0].operation, 'addPortRule');
    assert.deepEqual(t.store.rollbacks[0].commands, row.commands);
    assert.deepEqual([...t.store.needsRepair], []);
    assert.deepEqual(t.router.rules(), new Map());
    assertLock(t);
  });

  it('the router already agrees and the entry had a confirm deadline: AUTO_REVERTED event, nothing sent', async () => {
    const t = rig();
    const row = entry(t, COMMITTED, new Date(Date.now() - 1000));
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [COMMITTED, ROLLED_BACK]);
    assert.deepEqual(records(t), [`${RollbackStage.ROUTER_CONFIRM} AUTO_REVERTED`]);
    assertLock(t);
  });

  it("an entry whose timer is still running: the runner waits for the router's own revert and sends nothing", async () => {
    const t = rig({ rules: [web] });
    const row = entry(t, COMMITTED, new Date(Date.now() + 200));
    t.router.script.showConfig.push(
      (p, r) => r.natDestination(),
      (p, r) => {
        r.setRules([]); // the router's timer fires
        return r.natDestination();
      },
    );
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [COMMITTED, ROLLED_BACK]);
    assert.deepEqual(records(t), [`${RollbackStage.ROUTER_CONFIRM} AUTO_REVERTED`]);
    assert.match(t.store.rollbacks[0].reason, /reverted the unconfirmed commit by itself/);
    assertLock(t);
  });

  it('an UNDO_PENDING entry whose router now agrees: ROLLED_BACK journal, no event', async () => {
    const t = rig();
    const row = entry(t, UNDO_PENDING);
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.writes(), []);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [UNDO_PENDING, ROLLED_BACK]);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });

  it('an UNDO_PENDING entry whose router still holds the change: the undo is completed, ROLLED_BACK event', async () => {
    const t = rig({ commitConfirm: false, rules: [web] });
    const row = entry(t, UNDO_PENDING);
    t.store.needsRepair.add(10000);
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), row);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig', 'configure', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [UNDO_PENDING, ROLLED_BACK]);
    assert.deepEqual(records(t), [`${RollbackStage.ROUTER_COMMIT} ROLLED_BACK`]);
    assert.deepEqual([...t.store.needsRepair], []);
    assertLock(t);
  });

  it('an entry another replica settled meanwhile: resolved null, nothing sent', async () => {
    const t = rig({ rules: [web] });
    const row = entry(t, COMMITTED);
    await t.store.markJournal(row.id, ROLLED_BACK); // the other replica
    const r = await t.run(resumeEntry(row));
    assert.equal(value(r.answers[0]), null);
    assert.deepEqual(t.router.sequence(), ['capabilities', 'showConfig']);
    assert.deepEqual(t.store.journal.get(row.id)!.history, [COMMITTED, ROLLED_BACK]);
    assert.deepEqual(t.store.batchRows(), []);
    assert.deepEqual(records(t), []);
    assertLock(t);
  });
});

// Found while writing these tests, fixed since: the router's replies that do not mean what they seem.
describe('router transaction: busy, non-envelope and late replies (vyos-api.md §1, §4, §6)', () => {
  it(
    '"Another confirm is pending" after a commit that happened (later 2025 builds) is re-read and what landed is undone, never confirmed',
    async () => {
      const t = rig();
      t.router.caps = { ...t.router.caps, confirmOrder: 'commit-first' };
      // Later 2025 code commits first, then fails to arm the timer because another one is pending.
      t.router.script.configure.push((c, o, r) => {
        r.commit(c);
        throw busy('Another confirm is pending\n');
      });
      const r = await t.run(addRule(web));
      assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE, 'a busy router is a retryable ROUTER_UNAVAILABLE (design.md point 10)');
      assert.ok(!t.router.sequence().includes('confirm'), 'the pending timer is not ours: never confirmed');
      assert.ok(t.router.sequence().slice(3).includes('showConfig'), 'the router is re-read, as after a lost reply');
      const [history] = t.store.batchRows();
      const settledBack = !t.router.rules().has(10000);
      assert.ok(settledBack || history.at(-1) === UNDO_PENDING, 'the change is undone on the router, or the journal row stays unsettled to be resumed');
      assert.ok(settledBack || !records(t).includes('ROUTER_COMMIT ROLLED_BACK'), 'no ROLLED_BACK event while the router holds the change');
      assertLock(t);
    },
  );

  it(
    'a write answered by something that is not the VyOS envelope (1.3 nginx: HTTP 200 {"error": ...}) is re-read before deciding',
    async () => {
      const t = rig({ commitConfirm: false });
      t.router.script.configure.push((c, o, r) => {
        r.commit(c);
        throw new RouterError(RouterErrorKind.PROTOCOL, 'HTTP 200: not a VyOS reply: {"error": "An error occurred"}', { status: 200, endpoint: '/configure' });
      });
      const r = await t.run(addRule(web));
      const [history] = t.store.batchRows();
      assert.ok(t.router.sequence().slice(3).includes('showConfig'), 'the router is re-read');
      assert.equal(value(r.answers[0]), 'id-10000', 'the commit applied: the batch goes on');
      assert.deepEqual(history, [PENDING, COMMITTED, DONE]);
      assertLock(t);
    },
  );

  it(
    'a lost commit that lands after the quick re-reads (a "ghost commit") leaves the journal row unsettled',
    async () => {
      const t = rig({ commitConfirm: false });
      t.router.script.configure.push(lost());
      const r = await t.run(addRule(web));
      t.router.commit(t.router.calls[2].commands!); // the router's write queue gets to it later
      assert.equal(code(r.answers[0]), ErrorCode.ROUTER_UNAVAILABLE);
      const [history] = t.store.batchRows();
      assert.ok(!FINISHED_STATES.includes(history.at(-1)!), `the journal row stays unsettled so recovery re-reads the router later, got ${history.join(' -> ')}`);
    },
  );
});
