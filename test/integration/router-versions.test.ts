// The whole server against each router generation it supports: NAT syntax and commit-confirm
// are detected, never configured by hand (vyos-api.md §2, §4, §5).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ok, startTestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';

for (const [version, inbound, confirm] of [
  ['1.3', 'eth0', false],
  ['1.4', { name: 'eth0' }, false],
  ['rolling', { name: 'eth0' }, true],
] as const) {
  describe(`VyOS ${version}`, () => {
    test(`provisioning writes ${version === '1.3' ? '1.3' : '1.4+'} NAT syntax and ${confirm ? 'uses' : 'does not use'} commit-confirm`, async () => {
      const t = await startTestApp({ sim: { version } });
      try {
        const caps = await t.app.router.capabilities();
        assert.equal(caps.commitConfirm, confirm);
        const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "v", portRules: [{ internalPort: 80 }] }) { portRules { ruleNumber } } }`)).provisionVm;
        const raw = (t.sim.running() as { nat: { destination: { rule: Record<string, Record<string, unknown>> } } }).nat.destination.rule;
        assert.deepEqual(raw[String(vm.portRules[0].ruleNumber)]['inbound-interface'], inbound);
        await assertInSync(t);
        const report = ok(await t.gql(`{ syncReport { inSync } }`)).syncReport;
        assert.equal(report.inSync, true);
      } finally {
        await t.close();
      }
    });
  });
}
