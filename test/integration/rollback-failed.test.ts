// A router without commit-confirm (VyOS 1.4) whose undo also fails: ROLLBACK_FAILED, the rule is
// marked as needing repair, and the next change to it repairs it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';

describe('ROLLBACK_FAILED on a router without commit-confirm', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ sim: { version: '1.4' } });
  });
  after(async () => {
    await t?.close();
  });

  test('verify fails and the undo is refused: ROLLBACK_FAILED, event recorded, rule flagged needsRepair; a later change repairs it', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "fragile", portRules: [{ internalPort: 80 }] }) { portRules { id ruleNumber } } }`)).provisionVm;
    const rule = vm.portRules[0];
    t.sim.faults.tamperNextCommit([{ op: 'set', path: ['nat', 'destination', 'rule', String(rule.ruleNumber), 'translation', 'port', '9997'] }]);
    t.sim.faults.rejectNextCommit('undo refused', { skip: 1 });
    const res = await t.gql(`mutation($id: ID!) { updatePortRule(id: $id, input: { internalPort: 81 }) { id } }`, { id: rule.id });
    assert.equal(errorCode(res), 'ROLLBACK_FAILED');
    assert.match(res.errors![0].message, /need repair/);

    const event = ok(await t.gql(`{ rollbackEvents(first: 1) { edges { node { stage outcome } } } }`)).rollbackEvents.edges[0].node;
    assert.deepEqual(event, { stage: 'ROUTER_VERIFY', outcome: 'ROLLBACK_FAILED' });
    const flagged = ok(await t.gql(`query($id: ID!) { portRule(id: $id) { internalPort needsRepair } }`, { id: rule.id })).portRule;
    assert.deepEqual(flagged, { internalPort: 80, needsRepair: true });
    assert.equal(t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)?.internalPort, '9997', 'the router is left as the failed change made it');
    await assert.rejects(assertInSync(t), 'database and router disagree until repaired');
    const report = ok(await t.gql(`{ syncReport { inSync items { kind ruleNumber portRule { id needsRepair } fields { field expected actual } } } }`)).syncReport;
    assert.equal(report.inSync, false);
    const item = report.items.find((i: { ruleNumber: number }) => i.ruleNumber === rule.ruleNumber);
    assert.equal(item.kind, 'DRIFTED');
    assert.deepEqual(item.portRule, { id: rule.id, needsRepair: true });
    assert.deepEqual(item.fields, [{ field: 'internalPort', expected: '80', actual: '9997' }]);

    const repaired = ok(await t.gql(`mutation($id: ID!) { updatePortRule(id: $id, input: { internalPort: 82 }) { internalPort needsRepair } }`, { id: rule.id })).updatePortRule;
    assert.deepEqual(repaired, { internalPort: 82, needsRepair: false });
    await assertInSync(t);
  });
});
