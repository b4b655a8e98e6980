// driftDetected events as a subscriber sees them: each event's nested fields are read when the
// event is delivered (not when the subscription began), and a report of any size reaches the
// subscribers of every replica whole.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderDelete } from '../../src/vyos/nat-rule.js';
import { ok, startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/subscriber.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { id ruleNumber } } }`;

describe('driftDetected: every event is read fresh', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('a second event shows the nested data as it is then, not as it was at subscribe time', async () => {
    const vm = ok(await t.gql(PROVISION, { input: { name: 'fresh-vm', portRules: [{ internalPort: 80 }] } })).provisionVm;
    const missing = vm.portRules[0].ruleNumber as number;
    const sub = await subscribe(
      t.url,
      t.adminKey,
      `subscription { driftDetected { checkedAt items { kind ruleNumber portRule { ruleNumber vm { id portRules { ruleNumber } } } } } }`,
    );
    try {
      t.sim.apply([renderDelete(missing)]);
      assert.equal(await t.app.syncJob.tick(), 'ok');
      const first = (await sub.next()) as any;
      assert.deepEqual(first.driftDetected.items[0].portRule.vm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber), [missing]);

      // The VM gains a rule between the two events.
      const added = ok(await t.gql(`mutation($vmId: ID!) { addPortRule(vmId: $vmId, input: { internalPort: 81 }) { ruleNumber } }`, { vmId: vm.id })).addPortRule.ruleNumber as number;
      assert.equal(await t.app.syncJob.tick(), 'ok');
      const second = (await sub.next((e: any) => e !== first)) as any;
      assert.notEqual(second.driftDetected.checkedAt, first.driftDetected.checkedAt, 'a new event');
      assert.deepEqual(
        second.driftDetected.items[0].portRule.vm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber).sort(),
        [missing, added].sort(),
        'the second event shows the rule added after the first',
      );
    } finally {
      await sub.close();
    }
  });
});
