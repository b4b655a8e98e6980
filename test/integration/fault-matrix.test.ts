// The fault matrix (issue 5): one test per way a change can fail. Afterwards database and router
// agree, no row was lost, and exactly the expected event reached a subscriber over a WebSocket.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIMULATOR_PROFILES } from '../../src/simulator/profiles.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';
import { startServerProcess } from '../support/server-process.js';
import { subscribe, type Subscriber } from '../support/subscriber.js';

type Event = { rollbackEvents: { id: string; operation: string; stage: string; outcome: string; reason: string } };
const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { id ruleNumber } } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Every VyOS generation the simulator models; the commit-confirm faults where the router has it.
for (const profile of SIMULATOR_PROFILES) describe(`fault matrix (${profile.name}, VyOS ${profile.image})`, { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (TEST_DATABASE_URL): LISTEN/NOTIFY and the journal' }, () => {
  const ccOnly = { skip: !profile.commitConfirm && 'this router has no commit-confirm over the API' };
  let t: TestApp;
  let sub: Subscriber<Event>;
  let seen = 0;
  let seedIds: string[] = [];

  before(async () => {
    // a confirm "minute" of 4 s, so the router's own revert can be watched
    t = await startTestApp({ sim: { minuteMs: 4000, version: profile.name } });
    const vm = ok(await t.gql(PROVISION, { input: { name: 'keep-me', portRules: [{ internalPort: 80 }, { internalPort: 443 }] } })).provisionVm;
    seedIds = [vm.id, ...vm.portRules.map((r: { id: string }) => r.id)];
    sub = await subscribe<Event>(t.url, t.adminKey, 'subscription { rollbackEvents { id operation stage outcome reason } }');
  });
  after(async () => {
    await sub?.close();
    await t?.close();
  });

  /** Exactly one new event, with this stage and outcome (or none when `expected` is null). */
  async function expectEvent(expected: { stage: string; outcome: string } | null) {
    if (expected) {
      // the event may already be here: a failed change's client is answered after its audit row is
      // written, so the rollback event can arrive first
      const e = await sub.next(() => sub.received.length > seen, 15_000).catch(() => null);
      const fresh = sub.received.slice(seen);
      assert.equal(fresh.length >= 1, true, `an event was published (${e ? 'got one' : 'none'})`);
      assert.equal(fresh[0].rollbackEvents.stage, expected.stage);
      assert.equal(fresh[0].rollbackEvents.outcome, expected.outcome);
    }
    await sleep(300);
    assert.equal(sub.received.length - seen, expected ? 1 : 0, `events: ${JSON.stringify(sub.received.slice(seen))}`);
    seen = sub.received.length;
  }

  async function settled() {
    await assertInSync(t);
    const ids = (await t.app.orm.em.fork().execute<{ id: string }[]>('select id from vm union all select id from port_rule')).map((r) => r.id);
    for (const id of seedIds) assert.ok(ids.includes(id), `row ${id} was lost`);
  }

  test('the router rejects the commit -> ROUTER_COMMIT / ROLLED_BACK', async () => {
    t.sim.faults.rejectNextCommit();
    assert.equal(errorCode(await t.gql(PROVISION, { input: { name: 'f-reject', portRules: [{ internalPort: 1 }] } })), 'ROUTER_REJECTED');
    await expectEvent({ stage: 'ROUTER_COMMIT', outcome: 'ROLLED_BACK' });
    await settled();
  });

  test('the confirm fails -> ROUTER_CONFIRM / ROLLED_BACK', ccOnly, async () => {
    t.sim.faults.failNextConfirm();
    assert.ok((await t.gql(PROVISION, { input: { name: 'f-confirm', portRules: [{ internalPort: 2 }] } })).errors);
    await expectEvent({ stage: 'ROUTER_CONFIRM', outcome: 'ROLLED_BACK' });
    assert.equal(t.sim.confirmPending(), false);
    await settled();
  });

  test('the rules read back differ from what was sent -> ROUTER_VERIFY / ROLLED_BACK, the rule is as before', async () => {
    const rule = ok(await t.gql(`query($id: ID!) { portRule(id: $id) { id ruleNumber internalPort } }`, { id: seedIds[1] })).portRule;
    t.sim.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'translation', 'port', '9999'] }]);
    const res = await t.gql(`mutation($id: ID!) { updatePortRule(id: $id, input: { internalPort: 8080 }) { id } }`, { id: rule.id });
    assert.equal(errorCode(res), 'ROUTER_REJECTED');
    assert.match(res.errors![0].message, /internalPort: expected 8080, got 9999/);
    await expectEvent({ stage: 'ROUTER_VERIFY', outcome: 'ROLLED_BACK' });
    assert.equal(t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)?.internalPort, String(rule.internalPort));
    await settled();
  });

  test('the undo fails too, under commit-confirm -> AUTO_REVERTED: the router reverts by itself when the window ends', ccOnly, async () => {
    const rule = ok(await t.gql(`query($id: ID!) { portRule(id: $id) { id ruleNumber internalPort } }`, { id: seedIds[2] })).portRule;
    t.sim.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'translation', 'port', '9998'] }]);
    t.sim.faults.rejectNextCommit('undo refused', { skip: 1 });
    const res = await t.gql(`mutation($id: ID!) { updatePortRule(id: $id, input: { internalPort: 8081 }) { id } }`, { id: rule.id });
    assert.equal(errorCode(res), 'ROUTER_REJECTED');
    await expectEvent({ stage: 'ROUTER_VERIFY', outcome: 'AUTO_REVERTED' });
    // the confirm never came: the router goes back to the last confirmed config by itself
    for (let i = 0; i < 100 && t.sim.confirmPending(); i++) await sleep(100);
    assert.equal(t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)?.internalPort, String(rule.internalPort));
    await settled();
  });

  test('the reply is lost after a successful commit -> the change completes on both sides, no event', async () => {
    t.sim.faults.loseNextReply();
    const vm = ok(await t.gql(PROVISION, { input: { name: 'f-lost', portRules: [{ internalPort: 3 }] } })).provisionVm;
    seedIds.push(vm.id);
    await expectEvent(null);
    await settled();
  });

  test('the router is unreachable -> ROUTER_UNAVAILABLE, nothing reached it, no event', async () => {
    await t.sim.faults.setUnreachable(true);
    try {
      assert.equal(errorCode(await t.gql(PROVISION, { input: { name: 'f-down', portRules: [{ internalPort: 4 }] } })), 'ROUTER_UNAVAILABLE');
    } finally {
      await t.sim.faults.setUnreachable(false);
    }
    await expectEvent(null);
    await settled();
  });

  test('the database commit fails after the router confirmed -> undone on the router, DATABASE_COMMIT / ROLLED_BACK', async () => {
    const em = t.app.orm.em.fork();
    // A deferred constraint trigger fails at COMMIT, after every statement succeeded.
    await em.execute(`create or replace function fail_at_commit() returns trigger language plpgsql as $$
      begin if new.description = 'fail-at-commit' then raise exception 'simulated commit failure'; end if; return new; end $$`);
    await em.execute(`create constraint trigger fail_at_commit after insert or update on port_rule deferrable initially deferred for each row execute function fail_at_commit()`);
    try {
      const commits = t.sim.commitCount;
      const res = await t.gql(PROVISION, { input: { name: 'f-dbcommit', portRules: [{ internalPort: 5, description: 'fail-at-commit' }] } });
      assert.equal(errorCode(res), 'INTERNAL_SERVER_ERROR');
      assert.doesNotMatch(JSON.stringify(res.errors), /simulated commit failure|trigger|sql/i, 'the database error is masked');
      assert.ok(t.sim.commitCount >= commits + 2, 'the change was committed on the router and then undone');
      await expectEvent({ stage: 'DATABASE_COMMIT', outcome: 'ROLLED_BACK' });
      // The COMMITTED audit row was inserted in the batch's transaction, so it went with it; the
      // ROLLED_BACK row written afterwards says what happened (docs/security.md "Audit trail").
      const audit = await em.execute<{ outcome: string }[]>(
        `select outcome from audit_event where operation = 'provisionVm' and arguments::text like '%f-dbcommit%' order by at`,
      );
      assert.deepEqual(audit.map((a) => a.outcome), ['ROLLED_BACK']);
    } finally {
      await em.execute('drop trigger fail_at_commit on port_rule');
    }
    await settled();
  });

  test('the server is killed (SIGKILL) between commit and confirm and started again -> AUTO_REVERTED, seen by a subscriber on another process', ccOnly, async () => {
    const env = { DATABASE_URL: t.db.url, VYOS_URL: t.sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: t.adminKey };
    const first = await startServerProcess(env);
    t.sim.setCommitLatency(2000); // the router is slow: the process dies while it commits
    const pending = first.gql('mutation { provisionVm(input: { name: "f-killed", portRules: [{ internalPort: 6006 }] }) { id } }', {}, t.adminKey).catch(() => null);
    // Kill once the router is inside that commit (a fixed delay races the request on a slow machine).
    for (let i = 0; i < 200 && !t.sim.committing(); i++) await sleep(50);
    assert.ok(t.sim.committing(), 'precondition: the router started the commit');
    await first.stop('SIGKILL');
    await pending;
    // the router finishes the commit the dead process asked for, unconfirmed
    for (let i = 0; i < 40 && !t.routerRules().some((r) => r.internalPort === '6006'); i++) await sleep(100);
    assert.ok(t.routerRules().some((r) => r.internalPort === '6006'), 'the router has the unconfirmed change');
    assert.equal(t.sim.confirmPending(), true);
    t.sim.setCommitLatency(0);

    const second = await startServerProcess(env);
    try {
      await expectEvent({ stage: 'ROUTER_COMMIT', outcome: 'AUTO_REVERTED' });
      assert.equal(t.routerRules().some((r) => r.internalPort === '6006'), false, 'the router reverted by itself');
      assert.equal((await t.app.orm.em.fork().execute(`select count(*)::int as n from vm where name = 'f-killed'`))[0].n, 0);
      const ops = await t.app.orm.em.fork().execute(`select state from operation where state not in ('DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED')`);
      assert.deepEqual(ops, [], 'no operation is left unfinished');
      assert.match(second.log(), /settled an unfinished operation/);
    } finally {
      await second.stop();
    }
    await settled();
  });

  test('an event raised on one replica reaches a subscriber on another replica (same database)', async () => {
    const other = await startTestApp({ db: t.db, sim: { minuteMs: 4000, version: profile.name } });
    try {
      other.sim.faults.rejectNextCommit();
      assert.equal(errorCode(await other.gql(PROVISION, { input: { name: 'f-replica', portRules: [{ internalPort: 7 }] } }, { key: other.adminKey })), 'ROUTER_REJECTED');
      await expectEvent({ stage: 'ROUTER_COMMIT', outcome: 'ROLLED_BACK' });
    } finally {
      await other.close();
    }
  });
});
