// The answer does not wait for the save (docs/operations.md "Saving"): the batch's own transaction
// records that a save is owed, the save clears it, and a save a stopped process still owed (it
// answered, then died before saving) is made by the next catch-up (the sync job's).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ok, sql, startTestApp, type TestApp } from '../support/app.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }`;
const ADD = `mutation($vmId: ID!, $input: PortRuleInput!) { addPortRule(vmId: $vmId, input: $input) { ruleNumber } }`;
const SYNC = `{ syncReport { inSync unsavedSince } }`;

describe('a save owed after the answer', () => {
  let t: TestApp;
  let vmId: string;
  const owedSince = async (): Promise<Date | null> => (await sql(t, 'select save_owed_since from router_state')).rows[0]?.save_owed_since ?? null;

  before(async () => {
    t = await startTestApp({ env: { VYOS_SAVE: 'on' } });
    vmId = ok(await t.gql(PROVISION, { input: { name: 'saved', portRules: [] } })).provisionVm.id;
  });
  after(async () => {
    await t?.close();
  });

  test('is recorded with the change and cleared by the save', async () => {
    assert.equal(await owedSince(), null, 'nothing owed once the provisioning was saved');
    const saves = t.sim.saveCount;
    t.sim.faults.delayNextSave(1000);
    ok(await t.gql(ADD, { vmId, input: { internalPort: 8080 } }, { settle: false }));
    assert.equal(t.sim.saveCount, saves, 'answered before the save');
    assert.ok(await owedSince(), 'the committed batch says its save is owed');
    // syncReport reads under the router lock: after the batch, save included.
    assert.deepEqual(ok(await t.gql(SYNC)).syncReport, { inSync: true, unsavedSince: null });
    assert.equal(t.sim.saveCount, saves + 1);
    assert.equal(await owedSince(), null, 'the save cleared it');
  });

  test('a save a stopped process owed is made by the next catch-up, and none is made without one', async () => {
    const coordinator = t.app.fleet.home.coordinator;
    let saves = t.sim.saveCount;
    await coordinator.catchUp();
    assert.equal(t.sim.saveCount, saves, 'nothing owed: no save');
    // What a process killed between its answer and its save leaves behind.
    await sql(t, 'update router_state set save_owed_since = now()');
    saves = t.sim.saveCount;
    await coordinator.catchUp();
    assert.equal(t.sim.saveCount, saves + 1, 'the owed save was made');
    assert.equal(await owedSince(), null);
    assert.deepEqual(ok(await t.gql(SYNC)).syncReport, { inSync: true, unsavedSince: null });
  });
});
