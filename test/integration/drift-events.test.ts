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

describe('driftDetected over PostgreSQL: the whole report reaches the other replica', () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await startTestApp();
    b = await startTestApp({ db: a.db, simulator: a.sim });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a drift event with 100 MISSING_ON_ROUTER items delivers 100 to a subscriber of the other replica', async (ctx) => {
    if (a.db.embedded) return ctx.skip('needs a real PostgreSQL (two replicas, LISTEN/NOTIFY)');
    const portRules = Array.from({ length: 100 }, (_, i) => ({ internalPort: 1000 + i, description: `a fairly long description for rule ${i} so the report is big` }));
    const vm = ok(await a.gql(PROVISION, { input: { name: 'many-rules', portRules } })).provisionVm;
    const numbers = (vm.portRules as { ruleNumber: number }[]).map((r) => r.ruleNumber).sort((x, y) => x - y);
    assert.equal(numbers.length, 100);
    const sub = await subscribe(b.url, b.adminKey, `subscription { driftDetected { inSync items { kind ruleNumber portRule { id } } } }`);
    try {
      a.sim.apply(numbers.map(renderDelete));
      assert.equal(await a.app.syncJob.tick(), 'ok');
      const event = (await sub.next()) as any;
      const items = event.driftDetected.items as { kind: string; ruleNumber: number; portRule: { id: string } | null }[];
      assert.equal(items.length, 100, `the event lists ${items.length} of 100 drift items`);
      assert.ok(items.every((i) => i.kind === 'MISSING_ON_ROUTER' && i.portRule !== null));
      assert.deepEqual(items.map((i) => i.ruleNumber).sort((x, y) => x - y), numbers);
    } finally {
      await sub.close();
    }
  });
});
