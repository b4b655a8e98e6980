// The one reading of the router's NAT destination rules: one showConfig call, parsed.
import { NAT_DESTINATION_PATH, parseNatDestination } from './nat-rule.js';
import type { RouterApi, RouterRule } from './types.js';

/** The router's `nat destination` rules by rule number. */
export async function readNatRules(router: Pick<RouterApi, 'showConfig'>): Promise<Map<number, RouterRule>> {
  const rules = parseNatDestination(await router.showConfig([...NAT_DESTINATION_PATH]));
  return new Map(rules.map((r) => [r.ruleNumber, r]));
}
