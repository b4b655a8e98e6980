// The one reading of the router's NAT destination rules: one showConfig call, parsed.
import { NAT_DESTINATION_PATH, parseNatDestination } from './nat-rule.js';
import type { RouterApi, RouterRule } from './types.js';

/**
 * Each reply's rules, while the reply lives: the client returns the same value for a byte-identical
 * large reply, so an unchanged router's 30,000 rules are parsed once, not once per sync.
 */
const parsedReplies = new WeakMap<object, ReadonlyMap<number, RouterRule>>();

/** The router's `nat destination` rules by rule number (read-only: the map may be shared with earlier reads). */
export async function readNatRules(router: Pick<RouterApi, 'showConfig'>): Promise<ReadonlyMap<number, RouterRule>> {
  const reply = await router.showConfig([...NAT_DESTINATION_PATH]);
  const key = typeof reply === 'object' && reply !== null ? reply : null;
  const known = key && parsedReplies.get(key);
  if (known) return known;
  const byNumber = new Map<number, RouterRule>();
  // A loop, not `new Map(rules.map(...))`: 30,000 pairs less to make and collect per whole read.
  for (const r of parseNatDestination(reply)) byNumber.set(r.ruleNumber, r);
  if (key) parsedReplies.set(key, byNumber);
  return byNumber;
}
