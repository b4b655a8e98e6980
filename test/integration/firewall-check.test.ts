// VYOS_FIREWALL=check end to end (docs/operations.md "Making the port reachable"): a forward
// filter that would drop port-forwarded traffic is reported by syncReport, /health and /metrics,
// and stops being reported once the usual accept rule exists. The filter is set by hand on the
// router, as an operator would, through the simulator's schema of firewall.xml.in.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FirewallFinding, FirewallReportData } from '../../src/drift/firewall-check.js';
import type { RouterCommand } from '../../src/vyos/types.js';
import { ok, startTestApp, type TestApp } from '../support/app.js';
import { parseMetrics, value } from '../support/metrics.js';

const REPORT = `{ syncReport { inSync firewall { mode checked detail defaultAction accepted dropped uncertain findings { ruleNumber verdict transports by portRule { internalPort } } } } }`;
const PROVISION = `mutation { provisionVm(input: { name: "shop", portRules: [{ internalPort: 443 }, { internalPort: 53, protocol: UDP }] }) { portRules { ruleNumber } } }`;

const set = (line: string): RouterCommand => ({ op: 'set', path: line.split(' ') });

/** The report as the query above selects it: the data, with each finding's port rule in place of its id. */
type FirewallCheck = Omit<FirewallReportData, 'findings' | 'managed'> & {
  findings: (Omit<FirewallFinding, 'portRuleId'> & { portRule: { internalPort: number } | null })[];
};

async function firewall(t: TestApp): Promise<{ inSync: boolean; firewall: FirewallCheck }> {
  return ok(await t.gql<{ syncReport: { inSync: boolean; firewall: FirewallCheck } }>(REPORT)).syncReport;
}

async function healthOf(t: TestApp): Promise<{ status: string; firewall: { status: string; detail: string } }> {
  return (await (await fetch(`${t.url}/health`)).json()) as { status: string; firewall: { status: string; detail: string } };
}

async function gauge(t: TestApp, verdict: string): Promise<number | undefined> {
  const samples = parseMetrics(await t.app.metrics.scrape());
  return samples.some((s) => s.name === 'vyos_vm_api_firewall_port_rules') ? value(samples, 'vyos_vm_api_firewall_port_rules', { verdict }) : undefined;
}

describe('VYOS_FIREWALL=check: a forward filter that drops port forwards is reported', () => {
  let t: TestApp;
  let rules: number[];
  before(async () => {
    t = await startTestApp();
    rules = ok(await t.gql(PROVISION)).provisionVm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber);
  });
  after(async () => {
    await t?.close();
  });

  test('no filter: every rule accepted; a default drop: every rule reported, in syncReport, /health and /metrics; the nat-destination accept rule ends it', async () => {
    assert.equal((await healthOf(t)).firewall.detail.startsWith('not checked yet'), true, 'health reports the last check, and there was none');
    assert.equal(await gauge(t, 'dropped'), undefined, 'no figure before a check');

    const open = await firewall(t);
    assert.equal(open.firewall.checked, true);
    assert.deepEqual([open.firewall.accepted, open.firewall.dropped, open.firewall.defaultAction], [2, 0, null]);
    assert.match(open.firewall.detail, /no firewall ipv4 forward filter/);

    // The common 1.4 hardening: drop by default, let replies back in; forgets port forwards.
    t.sim.apply([
      set('firewall ipv4 forward filter default-action drop'),
      set('firewall ipv4 forward filter rule 10 action accept'),
      set('firewall ipv4 forward filter rule 10 state established'),
      set('firewall ipv4 forward filter rule 10 state related'),
    ]);
    const closed = await firewall(t);
    assert.equal(closed.inSync, true, 'not NAT drift: reconcile could not repair it');
    assert.deepEqual([closed.firewall.accepted, closed.firewall.dropped, closed.firewall.defaultAction], [0, 2, 'drop']);
    assert.deepEqual(
      closed.firewall.findings.map((f) => [f.ruleNumber, f.verdict, f.transports, f.by, f.portRule?.internalPort]),
      [
        [rules[0], 'DROPPED', 'tcp', 'forward filter default-action drop', 443],
        [rules[1], 'DROPPED', 'udp', 'forward filter default-action drop', 53],
      ],
    );
    const sick = await healthOf(t);
    assert.equal(sick.firewall.status, 'degraded');
    assert.equal(sick.status, 'degraded');
    assert.match(sick.firewall.detail, /drops forwarded traffic to 2 port rules/);
    assert.equal(await gauge(t, 'dropped'), 2);

    // A rule for one VM port: that rule passes, the other is still dropped.
    t.sim.apply([
      set('firewall ipv4 forward filter rule 20 action accept'),
      set('firewall ipv4 forward filter rule 20 protocol tcp'),
      set('firewall ipv4 forward filter rule 20 destination port 443'),
    ]);
    const one = await firewall(t);
    assert.deepEqual([one.firewall.accepted, one.firewall.dropped], [1, 1]);
    assert.deepEqual(one.firewall.findings.map((f) => f.portRule?.internalPort), [53]);

    // The usual idiom (VyOS docs, "Port forwarding"): accept whatever destination NAT translated.
    t.sim.apply([set('firewall ipv4 forward filter rule 30 action accept'), set('firewall ipv4 forward filter rule 30 connection-status nat destination')]);
    const fixed = await firewall(t);
    assert.deepEqual([fixed.firewall.accepted, fixed.firewall.dropped, fixed.firewall.findings.length], [2, 0, 0]);
    assert.equal((await healthOf(t)).firewall.status, 'ok');
    assert.equal(await gauge(t, 'dropped'), 0);
    assert.equal(await gauge(t, 'accepted'), 2);
  });
});

describe('VYOS_FIREWALL on other routers and settings', () => {
  test('VyOS 1.3: the ruleset bound `in` on the WAN interface decides (vyatta-cfg-firewall: accept returns, the unset default drops)', async () => {
    const t = await startTestApp({ sim: { version: '1.3' } });
    try {
      ok(await t.gql(PROVISION));
      assert.deepEqual([(await firewall(t)).firewall.checked, (await firewall(t)).firewall.accepted], [true, 2], 'no ruleset bound: nothing filtered');
      t.sim.apply([set('firewall name WAN_IN rule 10 action accept'), set('firewall name WAN_IN rule 10 state established enable'), set('interfaces ethernet eth0 firewall in name WAN_IN')]);
      const closed = (await firewall(t)).firewall;
      assert.deepEqual([closed.dropped, closed.findings[0]?.by], [2, 'name WAN_IN default-action drop (not set)']);
      assert.match(closed.detail, /VyOS 1\.3 rulesets \(in WAN_IN on eth0\)/);
      assert.equal(await gauge(t, 'dropped'), 2);
      t.sim.apply([set('firewall name WAN_IN rule 20 action accept'), set('firewall name WAN_IN rule 20 state new enable')]);
      assert.equal((await firewall(t)).firewall.accepted, 2);
      // a ruleset bound `out` on another interface may be the VM's way out: not decidable
      t.sim.apply([set('interfaces ethernet eth1 firewall out name LAN_OUT'), set('firewall name LAN_OUT default-action drop')]);
      assert.equal((await firewall(t)).firewall.uncertain, 2);
    } finally {
      await t.close();
    }
  });

  test('VYOS_FIREWALL=off: the firewall is not read, even when it drops', async () => {
    const t = await startTestApp({ env: { VYOS_FIREWALL: 'off' } });
    try {
      ok(await t.gql(PROVISION));
      t.sim.apply([set('firewall ipv4 forward filter default-action drop')]);
      const { firewall: fw } = await firewall(t);
      assert.deepEqual([fw.mode, fw.checked, fw.dropped], ['off', false, 0]);
      assert.equal((await healthOf(t)).firewall.status, 'ok');
    } finally {
      await t.close();
    }
  });
});
