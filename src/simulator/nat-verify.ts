// Commit-time verification of NAT rules, as vyos-1x `src/conf_mode/nat.py` does it (vyos-api.md §5 table).
// Pure: a candidate tree in, the first ConfigError text (or null) and any warnings out.

import { PORT_PROTOCOLS } from '../vyos/traffic-match';
import { findNode, leafValue, sortedChildren, type ConfigNode } from './config-tree';
import { isIpv4Network } from './value-validators';
import type { SimVersion } from './schema';
import { verifyFirewall } from './firewall-verify';
import { commitFailure } from './router-messages';

export interface NatVerdict {
  /** the ConfigError text of the first failing rule; the commit fails with it */
  error: string | null;
  /** non-fatal `Warning()` lines; the commit succeeds and prints them */
  warnings: string[];
}

function hasPorts(rule: ConfigNode): boolean {
  return ['source', 'destination', 'translation'].some((n) => leafValue(rule, n, 'port') !== undefined);
}

/** Checks common to source and destination rules (nat.py `verify_rule`). */
function verifyRule(rule: ConfigNode, errMsg: string, sep: string): string | null {
  if (hasPorts(rule)) {
    // The XML default protocol is `all`, so ports without an explicit protocol are refused.
    if (!PORT_PROTOCOLS.includes(leafValue(rule, 'protocol') ?? 'all')) {
      return `${errMsg}${sep}ports can only be specified when protocol is either tcp, udp or tcp_udp!`;
    }
    const translation = leafValue(rule, 'translation', 'address');
    if (translation !== undefined && isIpv4Network(translation)) {
      return `${errMsg}${sep}cannot use ports with an IPv4 network as translation address as it statically maps a whole network of addresses onto another network of addresses`;
    }
  }
  return null;
}

function interfaceOf(rule: ConfigNode, leafName: string, version: SimVersion): string | undefined {
  return version === '1.3' ? leafValue(rule, leafName) : leafValue(rule, leafName, 'name');
}

export function verifyNat(config: ConfigNode, version: SimVersion): NatVerdict {
  const warnings: string[] = [];
  const ethernet = findNode(config, ['interfaces', 'ethernet']);
  for (const direction of ['destination', 'source'] as const) {
    const rules = findNode(config, ['nat', direction, 'rule']);
    if (!rules) continue;
    const label = direction === 'destination' ? 'Destination' : 'Source';
    const ifLeaf = direction === 'destination' ? 'inbound-interface' : 'outbound-interface';
    for (const [number, rule] of sortedChildren(rules)) {
      const errMsg = `${label} NAT configuration error in rule ${number}:`;
      const excluded = rule.children.has('exclude');
      const iface = interfaceOf(rule, ifLeaf, version);
      if (version === '1.3') {
        // 1.3 puts each reason on its own line and requires the interface.
        if (iface === undefined) return { error: `${errMsg}\n${ifLeaf} not specified`, warnings };
        if (leafValue(rule, 'translation', 'address') === undefined && !excluded) {
          return { error: `${errMsg}\ntranslation address not specified`, warnings };
        }
        const error = verifyRule(rule, errMsg, '\n');
        if (error) return { error, warnings };
        continue;
      }
      const translated = leafValue(rule, 'translation', 'address') ?? leafValue(rule, 'translation', 'port');
      if (translated === undefined && !excluded) return { error: `${errMsg} translation requires address and/or port`, warnings };
      const error = verifyRule(rule, errMsg, ' ');
      if (error) return { error, warnings };
      // 1.4+ only warns about an interface that does not exist (a missing one is allowed).
      if (iface !== undefined && /^eth\d+$/.test(iface) && !ethernet?.children.has(iface)) {
        warnings.push(`WARNING: NAT interface "${iface}" for ${direction} NAT rule "${number}" does not exist!`);
      }
    }
  }
  return { error: null, warnings };
}

/**
 * A candidate as commit verifies it: the firewall script first (its priority is lower than nat's),
 * then nat. `failure` is the whole text the API returns (msg.commitFailure), null when it commits.
 */
export function verifyCandidate(config: ConfigNode, version: SimVersion): { failure: string | null; warnings: string[] } {
  const firewall = verifyFirewall(config, version);
  if (firewall) return { failure: commitFailure(firewall, 'firewall'), warnings: [] };
  const nat = verifyNat(config, version);
  return { failure: nat.error === null ? null : commitFailure(nat.error), warnings: nat.warnings };
}
