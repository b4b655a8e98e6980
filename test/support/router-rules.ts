// Router rule fixtures for the pure drift and planning tests.
import type { RouterRule } from '../../src/vyos/types.js';

export const RANGE = { first: 10000, last: 19999 };

/** One of our rules as the router holds it; `extra` overrides fields. */
export function rule(n: number, extra: Partial<RouterRule> = {}): RouterRule {
  return {
    ruleNumber: n,
    description: 'vm web',
    protocol: 'tcp',
    externalPort: String(32000 + (n % 1000)),
    internalPort: '80',
    translationAddress: '192.168.64.100',
    inboundInterface: 'eth0',
    disabled: false,
    ...extra,
  };
}
