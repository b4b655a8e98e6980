// Domain -> router picture: the RouterRule a PortRule should be on the router (pure).
import type { RouterRule } from '../vyos/types.js';
import { Protocol } from './entities/protocol.js';

export interface PortRuleFacts {
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
  /** consecutive ports from externalPort (1 when absent) */
  portCount?: number;
  sourceAddress?: string | null;
  description?: string | null;
  enabled: boolean;
}

/** `30000` or `30000-30099`: a rule's external ports as VyOS's `destination port` spells them. */
export function portsText(first: number, count: number): string {
  return count === 1 ? String(first) : `${first}-${first + count - 1}`;
}

const VYOS_PROTOCOL: Record<Protocol, string> = { TCP: 'tcp', UDP: 'udp', TCP_UDP: 'tcp_udp' };

/**
 * A range is `destination port a-b` with no `translation port`: the VM gets each port as it came
 * (vm-changes.ts `rangeKeepsPorts` says why VyOS cannot shift one). A single port keeps its
 * explicit translation port, as every rule has had since the first release.
 */
export function expectedRouterRule(rule: PortRuleFacts, vm: { name: string; internalIp: string }, wanInterface: string): RouterRule {
  const count = rule.portCount ?? 1;
  return {
    ruleNumber: rule.ruleNumber,
    description: rule.description ?? `vm ${vm.name}`,
    protocol: VYOS_PROTOCOL[rule.protocol],
    externalPort: portsText(rule.externalPort, count),
    internalPort: count === 1 ? String(rule.internalPort) : undefined,
    translationAddress: vm.internalIp,
    sourceAddress: rule.sourceAddress ?? undefined,
    inboundInterface: wanInterface,
    disabled: !rule.enabled,
  };
}
