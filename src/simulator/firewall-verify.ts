// Commit-time verification of `firewall ipv4` rules, as vyos-1x `src/conf_mode/firewall.py`
// verify_rule() does it for the nodes the simulator knows (sagitta and current, Oct 2024). Pure: a candidate tree in, the first ConfigError text out.

import { PORT_PROTOCOLS } from '../vyos/traffic-match';
import { findNode, leafValue, sortedChildren, type ConfigNode } from './config-tree';
import type { SimVersion } from './schema';

// Texts of firewall.py verify_rule() in sagitta (1.4, Oct 2024) and current (rolling, Oct 2024).
function verifyRule(rule: ConfigNode, names: ConfigNode | undefined, version: SimVersion): string | null {
  const action = leafValue(rule, 'action');
  if (action === undefined) return 'Rule action must be defined';
  if (action === 'offload' && leafValue(rule, 'offload-target') === undefined) return 'Action set to offload, but no offload-target specified';
  if (action === 'jump') {
    const target = leafValue(rule, 'jump-target');
    if (target === undefined) return 'Action set to jump, but no jump-target specified';
    if (!names?.children.has(target)) {
      return version === 'rolling' ? `Invalid jump-target. Firewall ipv4 name ${target} does not exist on the system` : `Invalid jump-target. Firewall name ${target} does not exist on the system`;
    }
  } else if (leafValue(rule, 'jump-target') !== undefined) {
    return 'jump-target defined, but action jump needed and it is not defined';
  }
  for (const side of ['source', 'destination']) {
    if (leafValue(rule, side, 'port') === undefined && leafValue(rule, side, 'group', 'port-group') === undefined) continue;
    const protocol = leafValue(rule, 'protocol');
    if (protocol === undefined) return 'Protocol must be defined if specifying a port or port-group';
    if (!PORT_PROTOCOLS.includes(protocol)) return 'Protocol must be tcp, udp, or tcp_udp when specifying a port or port-group';
  }
  return null;
}

/** The first ConfigError of the candidate's `firewall ipv4`, or null. */
export function verifyFirewall(config: ConfigNode, version: SimVersion): string | null {
  if (version === '1.3') return verifyRulesets13(config);
  const ipv4 = findNode(config, ['firewall', 'ipv4']);
  if (!ipv4) return null;
  const names = findNode(ipv4, ['name']);
  const chains: ConfigNode[] = ['forward', 'input', 'output'].flatMap((hook) => findNode(ipv4, [hook, 'filter']) ?? []);
  if (names) chains.push(...sortedChildren(names).map(([, chain]) => chain));
  for (const chain of chains) {
    const rules = findNode(chain, ['rule']);
    if (!rules) continue;
    for (const [, rule] of sortedChildren(rules)) {
      const error = verifyRule(rule, names, version);
      if (error) return error;
    }
  }
  return null;
}

/** 1.3: every ruleset rule needs an action (vyatta-cfg-firewall lib/Vyatta/IpTables/Rule.pm). */
function verifyRulesets13(config: ConfigNode): string | null {
  const names = findNode(config, ['firewall', 'name']);
  for (const [, chain] of names ? sortedChildren(names) : []) {
    const rules = findNode(chain, ['rule']);
    for (const [n, rule] of rules ? sortedChildren(rules) : []) if (leafValue(rule, 'action') === undefined) return `"action" must be defined in rule ${n}`;
  }
  return null;
}
