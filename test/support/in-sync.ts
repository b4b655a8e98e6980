// Database and router agree: every port rule row is on the router exactly as intended, and the
// managed range holds nothing else.
import assert from 'node:assert/strict';
import { PortRule } from '../../src/domain/entities/index.js';
import { expectedRouterRule, type PortRuleFacts } from '../../src/domain/rule-mapping.js';
import { diffRule } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import type { TestApp } from './app.js';

/** One port rule as the database (or the API) holds it, with its VM. */
export interface KnownRule {
  id: string;
  rule: PortRuleFacts;
  vm: { name: string; internalIp: string };
}

/** One way the two sides disagree (empty list = in sync). */
export type RuleDifference =
  | { kind: 'MISSING_ON_ROUTER'; ruleNumber: number; id: string }
  | { kind: 'DIFFERS'; ruleNumber: number; id: string; fields: { field: string; expected: string | null; actual: string | null }[] }
  | { kind: 'UNKNOWN_TO_DATABASE'; ruleNumber: number; routerRule: RouterRule };

/** Known rules vs the router's NAT destination rules inside `range` (pure). */
export function ruleDifferences(known: KnownRule[], routerRules: RouterRule[], range: { first: number; last: number }, wanInterface: string): RuleDifference[] {
  const router = new Map(routerRules.filter((r) => r.ruleNumber >= range.first && r.ruleNumber <= range.last).map((r) => [r.ruleNumber, r]));
  const out: RuleDifference[] = [];
  for (const { id, rule, vm } of known) {
    const actual = router.get(rule.ruleNumber);
    router.delete(rule.ruleNumber);
    if (!actual) {
      out.push({ kind: 'MISSING_ON_ROUTER', ruleNumber: rule.ruleNumber, id });
      continue;
    }
    const fields = diffRule(expectedRouterRule(rule, vm, wanInterface), actual);
    if (fields.length) out.push({ kind: 'DIFFERS', ruleNumber: rule.ruleNumber, id, fields });
  }
  for (const [ruleNumber, routerRule] of router) out.push({ kind: 'UNKNOWN_TO_DATABASE', ruleNumber, routerRule });
  return out.sort((a, b) => a.ruleNumber - b.ruleNumber);
}

export async function assertInSync(t: TestApp): Promise<void> {
  const { config, orm } = t.app;
  const rows = await orm.em.fork().find(PortRule, {}, { populate: ['vm'] });
  const known = rows.map((row) => ({ id: row.id, rule: row, vm: row.vm.getEntity() }));
  assert.deepEqual(ruleDifferences(known, t.routerRules(), config.natRuleRange, config.wanInterface), [], 'database and router differ');
}
