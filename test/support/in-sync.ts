// Database and router agree: every port rule row is on the router exactly as intended, and the
// managed range holds nothing else.
import assert from 'node:assert/strict';
import { PortRule } from '../../src/domain/entities/index.js';
import { expectedRouterRule } from '../../src/domain/rule-mapping.js';
import { diffRule } from '../../src/vyos/nat-rule.js';
import type { TestApp } from './app.js';

export async function assertInSync(t: TestApp): Promise<void> {
  const { config, orm } = t.app;
  const rows = await orm.em.fork().find(PortRule, {}, { populate: ['vm'] });
  const router = new Map(t.routerRules().filter((r) => r.ruleNumber >= config.natRuleRange.first && r.ruleNumber <= config.natRuleRange.last).map((r) => [r.ruleNumber, r]));
  for (const row of rows) {
    const expected = expectedRouterRule(row, row.vm.getEntity(), config.wanInterface);
    const actual = router.get(row.ruleNumber);
    assert.ok(actual, `rule ${row.ruleNumber} (${row.id}) is missing on the router`);
    assert.deepEqual(diffRule(expected, actual), [], `rule ${row.ruleNumber} differs`);
    router.delete(row.ruleNumber);
  }
  assert.deepEqual([...router.keys()], [], 'rules in the managed range that the database does not know');
}
