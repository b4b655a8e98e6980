// Domain -> router picture: the RouterRule a PortRule should be on the router (pure).
import type { RouterRule } from '../vyos/types.js';
import { Protocol } from './entities/protocol.js';

export interface PortRuleFacts {
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
  sourceAddress?: string | null;
  description?: string | null;
  enabled: boolean;
}

const VYOS_PROTOCOL: Record<Protocol, string> = { TCP: 'tcp', UDP: 'udp', TCP_UDP: 'tcp_udp' };

export function expectedRouterRule(rule: PortRuleFacts, vm: { name: string; internalIp: string }, wanInterface: string): RouterRule {
  return {
    ruleNumber: rule.ruleNumber,
    description: rule.description ?? `vm ${vm.name}`,
    protocol: VYOS_PROTOCOL[rule.protocol],
    externalPort: String(rule.externalPort),
    internalPort: String(rule.internalPort),
    translationAddress: vm.internalIp,
    sourceAddress: rule.sourceAddress ?? undefined,
    inboundInterface: wanInterface,
    disabled: !rule.enabled,
  };
}
