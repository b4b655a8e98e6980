// Every way the router can fail a change leaves database and router as they were (or both
// changed, for a lost reply that did commit), and says so with a RollbackEvent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { ruleNumber externalPort } } }`;
const EVENTS = `{ rollbackEvents(first: 5) { totalCount edges { node { operation stage reason outcome commands { op path } } } } }`;

async function state(t: TestApp) {
  const rows = await t.app.orm.em.fork().execute('select (select count(*) from vm)::int as vms, (select count(*) from port_rule)::int as rules');
  return { db: rows[0], router: JSON.stringify(t.routerRules()) };
}

async function latestEvent(t: TestApp) {
  return ok(await t.gql(EVENTS)).rollbackEvents;
}

for (const version of ['rolling', '1.4'] as const) {
  describe(`router failures (${version} router: ${version === 'rolling' ? 'commit-confirm' : 'plain commit, undo by inverse commands'})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ sim: { version, minuteMs: 60_000 } });
      ok(await t.gql(PROVISION, { input: { name: 'existing', portRules: [{ internalPort: 80 }] } }));
    });
    after(async () => {
      await t?.close();
    });

    test('the router rejects the commit (vyos-api.md §1 /configure): ROUTER_REJECTED with its message, nothing changed, event ROUTER_COMMIT/ROLLED_BACK', async () => {
      const before = await state(t);
      const events = (await latestEvent(t)).totalCount;
      t.sim.faults.rejectNextCommit('\n[[nat]] failed\nCommit failed\n');
      const res = await t.gql(PROVISION, { input: { name: 'rejected', portRules: [{ internalPort: 22 }] } });
      assert.equal(errorCode(res), 'ROUTER_REJECTED');
      assert.match(res.errors![0].message, /Commit failed/);
      assert.deepEqual(await state(t), before);
      const log = await latestEvent(t);
      assert.equal(log.totalCount, events + 1);
      const e = log.edges[0].node;
      assert.equal(e.operation, 'provisionVm');
      assert.equal(e.stage, 'ROUTER_COMMIT');
      assert.equal(e.outcome, 'ROLLED_BACK');
      assert.match(e.reason, /Commit failed/);
      assert.ok(e.commands.some((c: { path: string[] }) => c.path.includes('translation')), 'the discarded commands are listed');
    });

    test('the router is unreachable: ROUTER_UNAVAILABLE, nothing changed', async () => {
      const before = await state(t);
      await t.sim.faults.setUnreachable(true);
      try {
        const res = await t.gql(PROVISION, { input: { name: 'unreachable', portRules: [{ internalPort: 22 }] } });
        assert.equal(errorCode(res), 'ROUTER_UNAVAILABLE');
      } finally {
        await t.sim.faults.setUnreachable(false);
      }
      assert.deepEqual(await state(t), before);
    });

    test('the router answers 500 to the commit: ROUTER_UNAVAILABLE, nothing changed', async () => {
      const before = await state(t);
      const vm = ok(await t.gql(`{ vms(first: 1) { edges { node { id } } } }`)).vms.edges[0].node.id;
      const events = (await latestEvent(t)).totalCount;
      // the batch reads the router first (answered), then commits (500): a 5xx on a write may
      // have applied, so the server re-reads before it decides (vyos-api.md §1)
      t.sim.faults.answer500(1, { skip: 1 });
      const res = await t.gql(`mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 5 }) { id } }`, { vm });
      t.sim.faults.clear();
      assert.equal(errorCode(res), 'ROUTER_UNAVAILABLE');
      assert.deepEqual(await state(t), before);
      const log = await latestEvent(t);
      assert.equal(log.totalCount, events + 1);
      assert.equal(log.edges[0].node.stage, 'ROUTER_COMMIT');
      assert.match(log.edges[0].node.reason, /did not apply/);
    });

    test('the reply to a commit that did apply is lost: the server re-reads the router and completes (both changed)', async () => {
      const before = await state(t);
      t.sim.faults.loseNextReply();
      const vm = ok(await t.gql(PROVISION, { input: { name: 'lost-reply', portRules: [{ internalPort: 8443 }] } })).provisionVm;
      const after = await state(t);
      assert.equal(after.db.vms, before.db.vms + 1);
      const rule = t.routerRules().find((r) => r.ruleNumber === vm.portRules[0].ruleNumber);
      assert.equal(rule?.internalPort, '8443');
      assert.equal(t.sim.confirmPending(), false);
    });

    test('rollbackEvents pages newest first: one at a time with cursors gives the same list as one big page', async () => {
      for (let i = 0; i < 3; i++) {
        t.sim.faults.rejectNextCommit();
        assert.equal(errorCode(await t.gql(PROVISION, { input: { name: `paged-${i}`, portRules: [{ internalPort: 22 }] } })), 'ROUTER_REJECTED');
      }
      const all = ok(await t.gql(`{ rollbackEvents(first: 200) { totalCount edges { node { id at } } } }`)).rollbackEvents;
      assert.ok(all.totalCount >= 4);
      assert.equal(all.edges.length, all.totalCount);
      const times = all.edges.map((e: { node: { at: string } }) => Date.parse(e.node.at));
      assert.deepEqual([...times].sort((a, b) => b - a), times, 'newest first');
      const ids: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = ok(
          await t.gql(`query($a: String) { rollbackEvents(first: 1, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { a: after }),
        ).rollbackEvents;
        ids.push(...page.edges.map((e) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual(ids, all.edges.map((e: { node: { id: string } }) => e.node.id));
    });

    if (version === 'rolling') {
      test('the confirm fails (vyos-api.md §4): the change is undone on the router, nothing changed, event ROUTER_CONFIRM/ROLLED_BACK', async () => {
        const before = await state(t);
        t.sim.faults.failNextConfirm('confirm refused');
        const res = await t.gql(PROVISION, { input: { name: 'unconfirmed', portRules: [{ internalPort: 22 }, { internalPort: 23 }] } });
        assert.ok(res.errors, 'the mutation fails');
        assert.deepEqual(await state(t), before);
        assert.equal(t.sim.confirmPending(), false, 'no commit-confirm timer left running');
        const e = (await latestEvent(t)).edges[0].node;
        assert.equal(e.stage, 'ROUTER_CONFIRM');
        assert.equal(e.outcome, 'ROLLED_BACK');
        // the next change still works (no "Another confirm is pending")
        ok(await t.gql(PROVISION, { input: { name: 'after-unconfirmed', portRules: [{ internalPort: 22 }] } }));
      });
    }
  });
}
