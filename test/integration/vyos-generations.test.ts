// Every real VyOS generation (issue 14), one matrix over the simulator's profiles
// (src/simulator/profiles.ts, each traced to vyos-api.md and the research in docs/simulator.md):
// the commit path is the router's own, changes survive a reboot, a busy router is waited out, a
// timer that is not ours is never confirmed, and no late or dirty write leaves the two apart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIMULATOR_PROFILES } from '../../src/simulator/profiles.js';
import { NAT_DESTINATION_PATH } from '../../src/vyos/nat-rule.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { id ruleNumber } } }`;
const ADD = `mutation($vmId: ID!, $input: PortRuleInput!) { addPortRule(vmId: $vmId, input: $input) { id ruleNumber } }`;
const SYNC = `{ syncReport { inSync pendingUndos unsavedSince items { kind ruleNumber } } }`;
const FRESH = { headers: { 'cache-control': 'no-cache' } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const needsPg = !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (TEST_DATABASE_URL): the journal resumes owed undos';

async function eventually(ms: number, done: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await done().catch(() => false)) return true;
    await sleep(200);
  }
  return done().catch(() => false);
}

async function inSyncSoon(t: TestApp, ms = 25_000): Promise<void> {
  const agreed = await eventually(ms, async () => {
    const report = ok(await t.gql(SYNC, {}, FRESH)).syncReport;
    if (!report.inSync || report.pendingUndos !== 0) return false;
    await assertInSync(t);
    return true;
  });
  assert.ok(agreed, `database and router agree in the end: ${JSON.stringify(ok(await t.gql(SYNC, {}, FRESH)).syncReport)}`);
  await assertInSync(t);
}

for (const profile of SIMULATOR_PROFILES) {
  describe(`VyOS ${profile.image} (${profile.name})`, { skip: needsPg }, () => {
    const ccOnly = { skip: !profile.commitConfirm && 'this router has no commit-confirm over the API' };
    let t: TestApp;
    let vmId: string;
    let port = 2000;
    const add = async (description?: string) => t.gql(ADD, { vmId, input: { internalPort: port++, description } });

    before(async () => {
      // a confirm "minute" of 2 s on the router; the server's own bounds short enough for a test
      t = await startTestApp({ sim: { version: profile.name, minuteMs: 2000 }, env: { VYOS_BUSY_WAIT_SECONDS: '30', VYOS_COMMIT_TIMEOUT_MS: '1500', VYOS_LATE_WRITE_WATCH_SECONDS: '12' } });
      vmId = ok(await t.gql(PROVISION, { input: { name: `gen-${profile.name.replace(/\./g, '-')}`, portRules: [{ internalPort: 80 }] } })).provisionVm.id;
    });
    after(async () => {
      await t?.close();
    });

    test('the commit path is decided by probing the router, and writes succeed on it', async () => {
      const caps = await t.app.router.capabilities();
      assert.equal(caps.commitConfirm, profile.commitConfirm, `commit-confirm on ${profile.image}`);
      assert.equal(caps.commitConfirmBasis, 'probe');
      if (profile.commitConfirm) assert.equal(caps.confirmOrder, profile.confirmOrder === 'arm-then-commit' ? 'arm-first' : 'commit-first', 'the order is learned from our own commit');
      const reverts = t.sim.revertCount;
      ok(await add('written'));
      assert.equal(t.sim.confirmPending(), false, 'no timer of ours is left running');
      assert.equal(t.sim.revertCount, reverts);
      const health = (await (await fetch(`${t.url}/health`)).json()) as { router: { detail: string } };
      assert.match(health.router.detail, profile.commitConfirm ? /commit-confirm \(probed/ : /plain commit, undo by inverse commands \(probed\)/);
      await assertInSync(t);
    });

    test('every change is saved: after a reboot the rules are still there', async () => {
      const saves = t.sim.saveCount;
      // A slow save (a real router renders its whole config): the answer does not wait for it.
      t.sim.faults.delayNextSave(800);
      const { ruleNumber } = ok(await t.gql(ADD, { vmId, input: { internalPort: port++, description: 'survives a reboot' } }, { settle: false })).addPortRule;
      assert.equal(t.sim.saveCount, saves, 'answered before the save finished');
      assert.ok(t.routerRules().some((r) => r.ruleNumber === ruleNumber), 'the rule is live when the answer comes');
      // syncReport waits for the batch, save included (it reads under the router lock).
      assert.equal(ok(await t.gql(SYNC, {}, FRESH)).syncReport.unsavedSince, null);
      assert.ok(t.sim.saveCount > saves, 'the change was saved to the boot config');
      t.sim.reboot();
      await assertInSync(t);
      const report = ok(await t.gql(SYNC, {}, FRESH)).syncReport;
      assert.deepEqual({ inSync: report.inSync, unsavedSince: report.unsavedSince }, { inSync: true, unsavedSince: null });
    });

    test('a commit-confirm a CLI user armed is never confirmed by us; our change is applied and confirmed, or absent', async () => {
      t.sim.faults.foreignConfirmPending({ minutes: 1 });
      const res = await add('beside a foreign timer');
      assert.equal(t.sim.foreignConfirmsStolen, 0, 'never confirmed a timer we did not arm');
      if (res.errors) assert.equal(errorCode(res), 'ROUTER_UNAVAILABLE');
      await sleep(2500); // the foreign timer's window ends
      await inSyncSoon(t);
      assert.equal(t.sim.confirmPending(), false);
    });

    test('30 concurrent writes after a failed confirm all succeed once the router is free', ccOnly, async () => {
      // the confirm and every retry to stop our timer fail: our timer stays armed until its window ends
      t.sim.faults.failNextConfirms(4);
      assert.ok((await add('confirm fails')).errors, 'precondition: the change fails at the confirm');
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => add(`burst ${i}`)));
      const failed = results.filter((r) => r.errors);
      assert.deepEqual(failed.map((r) => r.errors![0].message), [], 'none is refused while the router is busy');
      await inSyncSoon(t);
    });

    test('after a failed restoreSnapshot the next batch commits only its own commands', async () => {
      const snapshot = ok(await t.gql(`mutation { takeSnapshot(reason: "generations") { id } }`)).takeSnapshot;
      const kept = ok(await add('added after the snapshot')).addPortRule;
      t.sim.faults.failNextLoad();
      assert.ok((await t.gql(`mutation($id: ID!) { restoreSnapshot(id: $id) { id } }`, { id: snapshot.id })).errors, 'precondition: the load fails');
      assert.equal(t.sim.sessionDirty(), false, 'the router session was cleaned');
      const next = ok(await add('the next batch')).addPortRule;
      const onRouter = new Set(t.routerRules().map((r) => r.ruleNumber));
      assert.ok(onRouter.has(kept.ruleNumber), 'the half-loaded snapshot was not committed along (it would have removed this rule)');
      assert.ok(onRouter.has(next.ruleNumber));
      await assertInSync(t);
    });

    test('a ghost commit (the router commits after the client gave up) leaves database and router in agreement', async () => {
      // held past VYOS_COMMIT_TIMEOUT_MS and the re-reads after it: the server gives up, the router commits it later anyway
      t.sim.faults.holdNextCommit(6000);
      const started = Date.now();
      assert.equal(errorCode(await add('ghost')), 'ROUTER_UNAVAILABLE');
      assert.ok(Date.now() - started < 6000, 'the client was answered before the late commit landed');
      // the undo owed stays pending while the late write is watched (12 s here), then router and database agree
      assert.equal(ok(await t.gql(SYNC, {}, FRESH)).syncReport.pendingUndos, 1);
      await sleep(6500 - (Date.now() - started));
      await inSyncSoon(t, 45_000);
    });

    test('a foreign rule whose description VyOS cannot read back: a clear ROUTER_UNAVAILABLE, and nothing is written', async () => {
      const rule = [...NAT_DESTINATION_PATH, 'rule', '500'];
      const inbound = profile.generation === '1.3' ? ['inbound-interface', 'eth0'] : ['inbound-interface', 'name', 'eth0'];
      const foreign = [
        { op: 'set' as const, path: [...rule, 'description', 'made by \\hand'] },
        { op: 'set' as const, path: [...rule, ...inbound] },
        { op: 'set' as const, path: [...rule, 'translation', 'address', '192.0.2.9'] },
      ];
      // the operator's commit waits for any commit of ours still running
      assert.ok(await eventually(10_000, async () => (t.sim.apply(foreign), true)), 'the operator could commit');
      try {
        const report = await t.gql(SYNC, {}, FRESH);
        assert.equal(errorCode(report), 'ROUTER_UNAVAILABLE');
        const rows = (await t.app.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from port_rule'))[0].n;
        const commits = t.sim.commitCount;
        assert.equal(errorCode(await add('not while the router cannot read its config')), 'ROUTER_UNAVAILABLE');
        assert.equal(t.sim.commitCount, commits, 'no write was sent');
        assert.equal((await t.app.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from port_rule'))[0].n, rows);
      } finally {
        t.sim.restartApi();
      }
    });

    test('our own inputs refuse a backslash (it does not round-trip on VyOS)', async () => {
      const res = await add('a\\b');
      assert.equal(errorCode(res), 'BAD_USER_INPUT');
      assert.match(res.errors![0].message, /backslash/);
    });
  });
}
