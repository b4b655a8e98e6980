// VYOS_FIREWALL=manage: the one forward-filter rule this server owns (docs/operations.md "Making
// the port reachable"). It accepts what destination NAT translated to an address of the VM pool,
// so every port rule's traffic passes and nothing else does.
//
// Nodes and values from vyos-1x interface-definitions/include/firewall/ (sagitta and current,
// Oct 2024): `action accept` (action-forward.xml.i), `connection-status nat destination`
// (`ct status dnat`, firewall.py parse_rule), `destination address a-b` (address.xml.i,
// ipv4-range), `description` (generic-description.xml.i, at most 255 characters).
import type { OwnedRule } from './owned-rule.js';

export const FORWARD_RULE_PATH = ['firewall', 'ipv4', 'forward', 'filter', 'rule'] as const;
/** Marks the rule as ours: a rule at our number without it is the operator's, never touched. */
export const MANAGED_DESCRIPTION = 'vyos-vm-api: accept port forwards to the VM pool';

export function poolAddress(first: string, last: string): string {
  return first === last ? first : `${first}-${last}`;
}

/** The accept rule as configured: at VYOS_FIREWALL_RULE, for LAN_POOL. */
export function configuredAcceptRule(config: { vyosFirewallRule: number; lanPool: { first: string; last: string } }): OwnedRule {
  return acceptRule(config.vyosFirewallRule, poolAddress(config.lanPool.first, config.lanPool.last));
}

/** The accept rule at `ruleNumber` (VYOS_FIREWALL_RULE) for `address` (LAN_POOL as `a-b`). */
export function acceptRule(ruleNumber: number, address: string): OwnedRule {
  return {
    path: [...FORWARD_RULE_PATH, String(ruleNumber)],
    leaves: [['action', 'accept'], ['connection-status', 'nat', 'destination'], ['destination', 'address', address]],
    description: MANAGED_DESCRIPTION,
  };
}
