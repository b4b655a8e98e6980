// Router config snapshots: before critical operations, on demand, rotating, and restorable.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const LIST = `{ snapshots { id slot file reason operation createdAt } }`;

describe('snapshots', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { SNAPSHOT_KEEP: '3' } });
    // rotation is asserted on the last 3 snapshots below
  });
  after(async () => {
    await t?.close();
  });

  test('decommissionVm saves the router configuration before it changes anything', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "doomed", portRules: [{ internalPort: 80 }] }) { id } }`)).provisionVm;
    assert.equal(ok(await t.gql(LIST)).snapshots.length, 0, 'provisioning is not critical');
    ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id }));
    const [snap] = ok(await t.gql(LIST)).snapshots;
    assert.equal(snap.operation, 'decommissionVm');
    assert.match(snap.file, /^\/config\/vyos-vm-api-snapshot-\d+\.config$/);
  });

  test('restoreSnapshot puts the whole router configuration back, with commit-confirm', async () => {
    ok(await t.gql(`mutation { provisionVm(input: { name: "before-snap", portRules: [{ internalPort: 1 }] }) { id } }`));
    const snap = ok(await t.gql(`mutation { takeSnapshot(reason: "before the risky change") { id reason } }`)).takeSnapshot;
    assert.equal(snap.reason, 'before the risky change');
    const routerAtSnapshot = JSON.stringify(t.sim.running().nat);
    ok(await t.gql(`mutation { provisionVm(input: { name: "after-snap", portRules: [{ internalPort: 2 }, { internalPort: 3 }] }) { id } }`));
    assert.notEqual(JSON.stringify(t.sim.running().nat), routerAtSnapshot);

    const commits = t.sim.commitCount;
    assert.equal(ok(await t.gql(`mutation($id: ID!) { restoreSnapshot(id: $id) { id } }`, { id: snap.id })).restoreSnapshot.id, snap.id);
    assert.equal(JSON.stringify(t.sim.running().nat), routerAtSnapshot);
    assert.equal(t.sim.commitCount, commits + 1);
    assert.equal(t.sim.confirmPending(), false, 'the restore was confirmed');
  });

  test('snapshots rotate through SNAPSHOT_KEEP files; the oldest record goes', async () => {
    for (let i = 0; i < 4; i++) ok(await t.gql(`mutation($r: String!) { takeSnapshot(reason: $r) { id } }`, { r: `rotation ${i}` }));
    const list = ok(await t.gql(LIST)).snapshots;
    assert.equal(list.length, 3);
    assert.deepEqual(list.map((s: { reason: string }) => s.reason), ['rotation 3', 'rotation 2', 'rotation 1']);
    assert.equal(new Set(list.map((s: { file: string }) => s.file)).size, 3, 'three distinct files on the router');
  });

  test('reconcile OVERRIDDEN (it deletes) and importRouterRules take a snapshot first; MERGED does not', async () => {
    const count = async () => ok(await t.gql(`{ snapshots { operation } }`)).snapshots.map((s: { operation: string | null }) => s.operation);
    const extra = (n: number, port: string) => [
      { op: 'set' as const, path: ['nat', 'destination', 'rule', String(n), 'destination', 'port', port] },
      { op: 'set' as const, path: ['nat', 'destination', 'rule', String(n), 'protocol', 'tcp'] },
      { op: 'set' as const, path: ['nat', 'destination', 'rule', String(n), 'translation', 'address', '10.99.0.1'] },
    ];
    t.sim.apply(extra(19990, '40990'));
    ok(await t.gql(`mutation { reconcile(mode: MERGED) { applied } }`));
    assert.notEqual((await count())[0], 'reconcile', 'MERGED deletes nothing: no snapshot');
    ok(await t.gql(`mutation { reconcile(mode: OVERRIDDEN) { applied } }`));
    assert.equal((await count())[0], 'reconcile');
    t.sim.apply(extra(19991, '40991'));
    ok(await t.gql(`mutation { importRouterRules(createVms: true) { report { inSync } } }`));
    assert.equal((await count())[0], 'importRouterRules');
  });

  test('refusals: unknown snapshot -> NOT_FOUND, an OPERATOR cannot restore -> FORBIDDEN, a quote in the reason -> BAD_USER_INPUT', async () => {
    assert.equal(errorCode(await t.gql(`mutation { restoreSnapshot(id: "00000000-0000-4000-8000-000000000000") { id } }`)), 'NOT_FOUND');
    const operator = await createKey(t, 'OPERATOR');
    const [snap] = ok(await t.gql(LIST)).snapshots;
    assert.equal(errorCode(await t.gql(`mutation($id: ID!) { restoreSnapshot(id: $id) { id } }`, { id: snap.id }, { key: operator })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(`mutation { takeSnapshot(reason: "it's") { id } }`)), 'BAD_USER_INPUT');
  });

  test('the router failing the save stops the critical change: nothing decommissioned, nothing changed on the router', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "kept", portRules: [{ internalPort: 9 }] }) { id } }`)).provisionVm;
    const before = JSON.stringify(t.sim.running());
    // the batch reads the router (answered), then saves the snapshot (500)
    t.sim.faults.answer500(1, { skip: 1 });
    assert.equal(errorCode(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id })), 'ROUTER_UNAVAILABLE');
    t.sim.faults.clear();
    assert.equal(JSON.stringify(t.sim.running()), before);
    assert.ok(ok(await t.gql(`query($id: ID!) { vm(id: $id) { id } }`, { id: vm.id })).vm);
  });
});
