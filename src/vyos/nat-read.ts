// The one reading of the router's NAT destination rules: one showConfig call, parsed.
import { NAT_DESTINATION_PATH, parseNatDestination } from './nat-rule.js';
import type { RouterApi, RouterRule } from './types.js';

/** The router's `nat destination` rules by rule number. */
export async function readNatRules(router: Pick<RouterApi, 'showConfig'>): Promise<Map<number, RouterRule>> {
  const byNumber = new Map<number, RouterRule>();
  // A loop, not `new Map(rules.map(...))`: 30,000 pairs less to make and collect per whole read.
  for (const r of parseNatDestination(await router.showConfig([...NAT_DESTINATION_PATH]))) byNumber.set(r.ruleNumber, r);
  return byNumber;
}
