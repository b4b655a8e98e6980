// The server core end to end: GraphQL over real HTTP, real PostgreSQL, the simulator over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIMULATOR_PROFILES } from '../../src/simulator/profiles.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) {
  id name internalIp portRules { id ruleNumber protocol externalPort internalPort sourceAddress description enabled vm { id } } } }`;

// Every VyOS generation the simulator models (vyos-api.md §2, §4, §5): the same contract on each.
for (const profile of SIMULATOR_PROFILES) describe(`provisioning through one router transaction (${profile.name}, VyOS ${profile.image})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ sim: { version: profile.name } });
  });
  after(async () => {
    await t?.close();
  });

  test('provisionVm with TCP, UDP with a source address and a disabled TCP_UDP rule: exactly those rules, one confirmed commit', async () => {
    const commits = t.sim.commitCount;
    const data = ok(
      await t.gql(PROVISION, {
        input: {
          name: 'web-1',
          portRules: [
            { internalPort: 80, externalPort: 32080, description: 'http' },
            { internalPort: 53, protocol: 'UDP', sourceAddress: '203.0.113.0/24' },
            { internalPort: 9000, protocol: 'TCP_UDP', enabled: false },
          ],
        },
      }),
    );
    const vm = data.provisionVm;
    assert.equal(vm.name, 'web-1');
    assert.match(vm.internalIp, /^192\.168\.64\.\d+$/);
    assert.equal(vm.portRules.length, 3);
    assert.equal(t.sim.commitCount - commits, 1, 'one router commit for the whole VM');
    assert.equal(t.sim.confirmPending(), false, 'the commit-confirm was confirmed');

    const byNumber = new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
    const ports = new Set<number>();
    for (const rule of vm.portRules) {
      const onRouter = byNumber.get(rule.ruleNumber);
      assert.ok(onRouter, `rule ${rule.ruleNumber} is on the router`);
      assert.equal(onRouter.translationAddress, vm.internalIp);
      assert.equal(onRouter.externalPort, String(rule.externalPort));
      assert.equal(onRouter.internalPort, String(rule.internalPort));
      assert.equal(onRouter.protocol, rule.protocol.toLowerCase());
      assert.equal(onRouter.disabled, !rule.enabled);
      assert.equal(onRouter.inboundInterface, 'eth0');
      assert.equal(rule.vm.id, vm.id);
      ports.add(rule.externalPort);
    }
    assert.equal(ports.size, 3, 'each rule has its own external port');
    assert.equal(byNumber.get(vm.portRules[0].ruleNumber)!.description, 'http');
    assert.equal(byNumber.get(vm.portRules[1].ruleNumber)!.sourceAddress, '203.0.113.0/24');
    assert.equal(vm.portRules[0].externalPort, 32080);

    const read = ok(await t.gql(`query($id: ID!) { vm(id: $id) { name portRules { ruleNumber } } }`, { id: vm.id }));
    assert.deepEqual(read.vm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber), vm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber));
  });

  test('update, disable and remove a rule change the router rule in place', async () => {
    const vm = ok(await t.gql(PROVISION, { input: { name: 'edit-me', portRules: [{ internalPort: 22 }] } })).provisionVm;
    const rule = vm.portRules[0];
    const upd = ok(
      await t.gql(`mutation($id: ID!, $input: UpdatePortRuleInput!) { updatePortRule(id: $id, input: $input) { internalPort sourceAddress description } }`, {
        id: rule.id,
        input: { internalPort: 2222, sourceAddress: '198.51.100.7', description: 'ssh from office' },
      }),
    ).updatePortRule;
    assert.equal(upd.internalPort, 2222);
    let onRouter = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)!;
    assert.equal(onRouter.internalPort, '2222');
    assert.equal(onRouter.sourceAddress, '198.51.100.7');
    assert.equal(onRouter.description, 'ssh from office');

    ok(await t.gql(`mutation($id: ID!) { setPortRuleEnabled(id: $id, enabled: false) { enabled } }`, { id: rule.id }));
    onRouter = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)!;
    assert.equal(onRouter.disabled, true);

    // clearing the source address removes the leaf from the router, not just from the database
    ok(await t.gql(`mutation($id: ID!) { updatePortRule(id: $id, input: { sourceAddress: null, enabled: true }) { id } }`, { id: rule.id }));
    onRouter = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)!;
    assert.equal(onRouter.sourceAddress, undefined);
    assert.equal(onRouter.disabled, false);

    assert.equal(ok(await t.gql(`mutation($id: ID!) { removePortRule(id: $id) }`, { id: rule.id })).removePortRule, rule.id);
    assert.equal(t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber), undefined);
    assert.equal(ok(await t.gql(`query($id: ID!) { portRule(id: $id) { id } }`, { id: rule.id })).portRule, null);
  });

  test('decommissionVm removes every rule of the VM from the router in one commit', async () => {
    const vm = ok(await t.gql(PROVISION, { input: { name: 'short-lived', portRules: [{ internalPort: 1 }, { internalPort: 2 }] } })).provisionVm;
    const commits = t.sim.commitCount;
    assert.equal(ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id })).decommissionVm, vm.id);
    assert.equal(t.sim.commitCount - commits, 1);
    const numbers = new Set(t.routerRules().map((r) => r.ruleNumber));
    for (const r of vm.portRules) assert.ok(!numbers.has(r.ruleNumber));
    assert.equal(ok(await t.gql(`query($id: ID!) { vm(id: $id) { id } }`, { id: vm.id })).vm, null);
  });

  test('a retried provisionVm with the same idempotencyKey returns the first VM and changes nothing', async () => {
    const input = { name: 'idem', idempotencyKey: 'job-42', portRules: [{ internalPort: 8080 }] };
    const first = ok(await t.gql(PROVISION, { input })).provisionVm;
    const commits = t.sim.commitCount;
    const second = ok(await t.gql(PROVISION, { input })).provisionVm;
    assert.equal(second.id, first.id);
    assert.deepEqual(second.portRules, first.portRules);
    assert.equal(t.sim.commitCount, commits, 'no router commit for the retry');
  });

  test('30 concurrent addPortRule calls all succeed with distinct ports and rule numbers, all on the router', async () => {
    const vm = ok(await t.gql(PROVISION, { input: { name: 'busy' } })).provisionVm;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.gql(`mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { ruleNumber externalPort } }`, { vm: vm.id, p: 1000 + i }),
      ),
    );
    const rules = results.map((r) => ok(r).addPortRule as { ruleNumber: number; externalPort: number });
    assert.equal(new Set(rules.map((r) => r.ruleNumber)).size, 30);
    assert.equal(new Set(rules.map((r) => r.externalPort)).size, 30);
    const onRouter = new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
    for (const r of rules) assert.equal(onRouter.get(r.ruleNumber)?.externalPort, String(r.externalPort));
  });

  test('vms pages with cursors and totalCount', async () => {
    const p1 = ok(await t.gql(`{ vms(first: 2) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }`)).vms;
    assert.equal(p1.edges.length, 2);
    assert.ok(p1.totalCount >= 3);
    assert.equal(p1.pageInfo.hasNextPage, true);
    const p2 = ok(await t.gql(`query($a: String) { vms(first: 200, after: $a) { edges { node { name } } pageInfo { hasNextPage } } }`, { a: p1.pageInfo.endCursor })).vms;
    assert.equal(p2.edges.length, p1.totalCount - 2);
    assert.equal(p2.pageInfo.hasNextPage, false);
    const names = [...p1.edges, ...p2.edges].map((e: { node: { name: string } }) => e.node.name);
    assert.equal(new Set(names).size, names.length, 'no VM on two pages');
    assert.equal(errorCode(await t.gql(`{ vms(first: 0) { totalCount } }`)), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(`{ vms(after: "garbage") { totalCount } }`)), 'BAD_USER_INPUT');
  });
});
