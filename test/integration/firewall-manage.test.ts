// VYOS_FIREWALL=manage end to end (docs/operations.md "Making the port reachable"): the one accept
// rule the server owns in `firewall ipv4 forward filter` is written, kept and removed in the same
// router commit as the NAT rules, undone with them, and never written over an operator's rule.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FORWARD_RULE_PATH, MANAGED_DESCRIPTION } from '../../src/vyos/managed-accept.js';
import type { RouterCommand } from '../../src/vyos/types.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

const RULE = 9000;
const PROVISION = `mutation($name: String!) { provisionVm(input: { name: $name, portRules: [{ internalPort: 443 }] }) { id portRules { id ruleNumber } } }`;
const REPORT = `{ syncReport { inSync firewall { mode dropped accepted managed { ruleNumber state } } } }`;
const set = (line: string): RouterCommand => ({ op: 'set', path: line.split(' ') });

function forwardRules(t: TestApp): Record<string, Record<string, unknown>> {
  const fw = t.sim.running() as { firewall?: { ipv4?: { forward?: { filter?: { rule?: Record<string, Record<string, unknown>> } } } } };
  return fw.firewall?.ipv4?.forward?.filter?.rule ?? {};
}

for (const version of ['1.4', 'rolling'] as const) {
  describe(`VYOS_FIREWALL=manage on ${version} (${version === '1.4' ? 'plain commits, undo by inverse commands' : 'commit-confirm'})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ sim: { version }, env: { VYOS_FIREWALL: 'manage', VYOS_FIREWALL_RULE: String(RULE), LAN_POOL: '192.168.64.100-192.168.64.199' } });
      // The operator's hardening, which forgets port forwards.
      t.sim.apply([set('firewall ipv4 forward filter default-action drop'), set('firewall ipv4 forward filter rule 10 action accept'), set('firewall ipv4 forward filter rule 10 state established')]);
    });
    after(async () => {
      await t?.close();
    });

    test('the first port rule brings the accept rule in the same commit; the last one takes it away; the operator\'s rule stays', async () => {
      const commits = t.sim.commitCount;
      const vm = ok(await t.gql(PROVISION, { name: 'web' })).provisionVm;
      assert.equal(t.sim.commitCount, commits + 1, 'one commit for NAT and firewall');
      const sent = t.sim.configured[t.sim.configured.length - 1].map((c) => c.path.join(' '));
      assert.ok(sent.some((p) => p.startsWith(`nat destination rule ${vm.portRules[0].ruleNumber} `)));
      assert.ok(sent.includes(`firewall ipv4 forward filter rule ${RULE} connection-status nat destination`));
      assert.deepEqual(forwardRules(t)[String(RULE)], {
        action: 'accept',
        'connection-status': { nat: 'destination' },
        description: MANAGED_DESCRIPTION,
        destination: { address: '192.168.64.100-192.168.64.199' },
      });
      assert.deepEqual(forwardRules(t)['10'], { action: 'accept', state: 'established' });
      const report = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual([report.firewall.mode, report.firewall.dropped, report.firewall.accepted, report.firewall.managed], ['manage', 0, 1, { ruleNumber: RULE, state: 'IN_PLACE' }]);

      // A second VM changes nothing in the firewall: the rule is as it should be.
      const second = ok(await t.gql(PROVISION, { name: 'db' })).provisionVm;
      assert.ok(!t.sim.configured[t.sim.configured.length - 1].some((c) => c.path[0] === 'firewall'));

      ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: second.id }));
      assert.ok(forwardRules(t)[String(RULE)], 'still a port rule left');
      const before = t.sim.commitCount;
      ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id }));
      assert.equal(t.sim.commitCount, before + 1);
      assert.equal(forwardRules(t)[String(RULE)], undefined, 'no port rule, no accept rule');
      assert.deepEqual(forwardRules(t)['10'], { action: 'accept', state: 'established' });
    });

    test('a commit whose read-back fails is undone: NAT rule and accept rule go together', async () => {
      // Someone's change lands in the same commit: our accept rule does not read back as written.
      t.sim.faults.tamperNextCommit([set(`firewall ipv4 forward filter rule ${RULE} destination address 192.168.64.7`)]);
      const res = await t.gql(PROVISION, { name: 'doomed' });
      assert.equal(errorCode(res), 'ROUTER_REJECTED');
      assert.match(res.errors![0].message, /firewall ipv4 forward filter rule 9000 is not as written/);
      assert.equal(forwardRules(t)[String(RULE)], undefined, 'the accept rule was undone with the NAT rule');
      assert.deepEqual(t.routerRules(), []);
      assert.deepEqual(forwardRules(t)['10'], { action: 'accept', state: 'established' });
    });

    test("a rule of the operator's at our number is left alone, and reported", async () => {
      t.sim.apply([set(`firewall ipv4 forward filter rule ${RULE} action drop`), set(`firewall ipv4 forward filter rule ${RULE} description ops`)]);
      ok(await t.gql(PROVISION, { name: 'api' }));
      assert.deepEqual(forwardRules(t)[String(RULE)], { action: 'drop', description: 'ops' });
      const report = ok(await t.gql(REPORT)).syncReport;
      assert.deepEqual(report.firewall.managed, { ruleNumber: RULE, state: 'FOREIGN' });
      assert.equal(report.firewall.dropped, 1);
      // Freed by the operator: reconcile writes ours, in its own commit.
      t.sim.apply([{ op: 'delete', path: [...FORWARD_RULE_PATH, String(RULE)] }]);
      assert.equal(ok(await t.gql(REPORT)).syncReport.firewall.managed.state, 'MISSING');
      ok(await t.gql(`mutation { reconcile { applied } }`));
      assert.equal(forwardRules(t)[String(RULE)]?.description, MANAGED_DESCRIPTION);
      assert.equal(ok(await t.gql(REPORT)).syncReport.firewall.dropped, 0);
    });
  });
}
