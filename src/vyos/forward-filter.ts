// Would VyOS's forward filter let a port-forwarded connection through? Read from the JSON of
// `showConfig ["firewall", "ipv4"]` (1.4 and rolling; docs/operations.md "Making the port
// reachable" cites the interface definitions each fact comes from). Pure.
//
// The question is asked for the first packet of a new connection after destination NAT, as the
// forward hook sees it: the VM's address and port, the WAN interface as input, conntrack status
// `dnat`, state `new`, any source. A match condition the reader cannot decide for that packet
// (a group, a source restriction, an output interface) makes the outcome uncertain, never a guess.
import { addressCatches, caughtPorts, inRanges, interfaceCatches, protocolTransports } from './traffic-match.js';

/** One `rule <N>` of a chain, as the router holds it. */
export interface FirewallRule {
  number: number;
  /** `action` (accept, drop, reject, jump, return, continue, queue, synproxy, ...) */
  action?: string;
  /** `jump-target`: the `firewall ipv4 name` chain an `action jump` enters */
  jumpTarget?: string;
  disabled: boolean;
  /** the rule's whole node, for its match conditions */
  node: Record<string, unknown>;
}

export interface FirewallChain {
  /** `default-action`; absent when not set (the chain's own default then applies) */
  defaultAction?: string;
  rules: FirewallRule[];
}

export interface FirewallIpv4 {
  /** `firewall ipv4 forward filter`; null when it is not configured */
  forward: FirewallChain | null;
  /** `firewall ipv4 name <X>`: the chains a rule can jump to */
  names: Map<string, FirewallChain>;
  /** which firewall model it was read from: 1.4+'s `firewall ipv4`, or 1.3's interface-bound rulesets */
  model: '1.3' | '1.4';
  /** 1.3: the rulesets found bound to interfaces, for the report */
  label?: string;
}

/**
 * What a chain does at its end when `default-action` is not set: the forward filter's node
 * defaults to accept (include/firewall/default-action-base-chains.xml.i), a named chain's to drop
 * (include/firewall/default-action.xml.i); vyos-1x sagitta and current, Oct 2024.
 */
export const FORWARD_DEFAULT_ACTION = 'accept';
export const NAMED_CHAIN_DEFAULT_ACTION = 'drop';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function readChain(node: Json): FirewallChain {
  const rules = isObject(node.rule) ? node.rule : {};
  return {
    defaultAction: text(node['default-action']),
    rules: Object.entries(rules)
      .filter((entry): entry is [string, Json] => isObject(entry[1]))
      .map(([n, r]) => ({ number: Number(n), action: text(r.action), jumpTarget: text(r['jump-target']), disabled: 'disable' in r, node: r }))
      .sort((a, b) => a.number - b.number),
  };
}

/** The `firewall ipv4` subtree (null: nothing configured under it). */
export function readFirewallIpv4(json: unknown): FirewallIpv4 {
  const root = isObject(json) ? json : {};
  const forward = isObject(root.forward) && isObject(root.forward.filter) ? readChain(root.forward.filter) : null;
  const names = new Map<string, FirewallChain>();
  if (isObject(root.name)) for (const [name, chain] of Object.entries(root.name)) if (isObject(chain)) names.set(name, readChain(chain));
  return { forward, names, model: '1.4' };
}

/** The first packet of a forwarded, destination-NATed connection. */
export interface ForwardedPacket {
  transport: 'tcp' | 'udp';
  /** the VM's address (the translation address) */
  address: string;
  /** the VM's port (the translation port) */
  port: number;
  /** the interface it arrived on (WAN_INTERFACE) */
  inboundInterface: string;
}

type Match = 'all' | 'none' | 'some';

// Rule nodes that say what to do, not what to match.
const NOT_MATCHING = new Set(['action', 'jump-target', 'description', 'disable', 'log', 'log-options', 'queue', 'queue-options']);

function both(a: Match, b: Match): Match {
  if (a === 'none' || b === 'none') return 'none';
  return a === 'some' || b === 'some' ? 'some' : 'all';
}

const decided = (held: boolean | null): Match => (held === null ? 'some' : held ? 'all' : 'none');

function matchDestination(node: unknown, p: ForwardedPacket): Match {
  if (!isObject(node)) return 'some';
  let m: Match = 'all';
  for (const [key, value] of Object.entries(node)) {
    if (key === 'address' && typeof value === 'string') m = both(m, decided(addressCatches(value, p.address)));
    else if (key === 'port' && typeof value === 'string') m = both(m, decided(inRanges(caughtPorts(value), p.port)));
    else m = both(m, 'some'); // groups, fqdn, geoip, mac-address: not decidable here
  }
  return m;
}

/** `state`: one value or a list (several values of a multi leaf, vyos-api.md §3); older images nest `established { enable }`. */
function states(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (isObject(value)) return Object.entries(value).filter(([, v]) => v === 'enable' || isObject(v)).map(([k]) => k);
  return [];
}

/** Whether the rule's conditions hold for every, no, or some such packet. */
export function ruleMatches(rule: FirewallRule, p: ForwardedPacket): Match {
  let m: Match = 'all';
  for (const [key, value] of Object.entries(rule.node)) {
    if (NOT_MATCHING.has(key)) continue;
    switch (key) {
      case 'protocol':
        m = both(m, typeof value === 'string' ? (protocolTransports(value)[p.transport] ? 'all' : 'none') : 'some');
        break;
      case 'destination':
        m = both(m, matchDestination(value, p));
        break;
      case 'state':
        m = both(m, states(value).includes('new') ? 'all' : 'none');
        break;
      case 'connection-status': {
        const nat = isObject(value) ? text(value.nat) : undefined;
        m = both(m, nat === 'destination' ? 'all' : nat === 'source' ? 'none' : 'some');
        break;
      }
      case 'inbound-interface': {
        const name = isObject(value) ? text(value.name) : undefined;
        m = both(m, name !== undefined && Object.keys(value as Json).length === 1 ? (interfaceCatches(name, p.inboundInterface) ? 'all' : 'none') : 'some');
        break;
      }
      default:
        // source address or port, output interface, groups, limits, tcp flags, time, ...
        m = both(m, 'some');
    }
    if (m === 'none') return m;
  }
  return m;
}

/** Which of a packet's per-rule fields (its address, its port) any rule of the filter looks at. */
export interface PacketFieldsRead {
  address: boolean;
  port: boolean;
}

/**
 * What `forwardOutcome` can depend on beyond the transport and the inbound interface: only a
 * `destination address` or `destination port` condition reads the packet's address or port (the
 * other conditions are the same for every forward, or undecidable for all). Two packets that
 * differ only in fields no rule reads meet the same outcome, so a fleet's check is one evaluation
 * per distinct value read, not one per rule.
 */
export function packetFieldsRead(fw: FirewallIpv4): PacketFieldsRead {
  const read = { address: false, port: false };
  for (const chain of [fw.forward, ...fw.names.values()]) {
    for (const rule of chain?.rules ?? []) {
      const d = rule.node['destination'];
      if (!isObject(d)) continue;
      if ('address' in d) read.address = true;
      if ('port' in d) read.port = true;
    }
  }
  return read;
}

/** Where a packet's fate was decided: "default-action drop" or "rule 20 (drop)", with the chain. */
export interface Outcome {
  verdict: 'accept' | 'drop' | 'unknown';
  by: string;
}

const MAX_JUMPS = 16;

/** What one matching rule does: verdicts it can reach, whether it leaves its chain or lets the packet go on. */
interface Step {
  outcomes: Outcome[];
  /** `action return`: the packet leaves this chain (back to the rule after the jump) */
  leaves: boolean;
  /** `action continue`, or a jump whose chain may return: the next rule sees the packet */
  continues: boolean;
}

function chainName(name: string | null): string {
  return name === null ? 'forward filter' : `name ${name}`;
}

function actionOutcome(action: string, by: string): Outcome {
  if (action === 'accept') return { verdict: 'accept', by };
  if (action === 'drop' || action === 'reject') return { verdict: 'drop', by };
  return { verdict: 'unknown', by }; // queue, synproxy, offload: decided outside the ruleset
}

/**
 * Every outcome the packet can meet in `chain` (several when an undecidable rule may or may not
 * catch it); 'return' among them: it may leave the chain without a verdict.
 */
function run(fw: FirewallIpv4, chain: FirewallChain, name: string | null, p: ForwardedPacket, depth: number): (Outcome | 'return')[] {
  const out: (Outcome | 'return')[] = [];
  for (const rule of chain.rules) {
    if (rule.disabled) continue;
    const m = ruleMatches(rule, p);
    if (m === 'none') continue;
    const step = ruleStep(fw, rule, `${chainName(name)} rule ${rule.number} (${rule.action ?? 'no action'})`, p, depth);
    out.push(...step.outcomes);
    if (step.leaves) {
      out.push('return');
      if (m === 'all') return out;
    } else if (m === 'all' && !step.continues) {
      return out;
    }
  }
  const action = chain.defaultAction ?? (name === null ? FORWARD_DEFAULT_ACTION : NAMED_CHAIN_DEFAULT_ACTION);
  out.push(action === 'return' ? 'return' : actionOutcome(action, `${chainName(name)} default-action ${action}${chain.defaultAction ? '' : ' (not set)'}`));
  return out;
}

function ruleStep(fw: FirewallIpv4, rule: FirewallRule, by: string, p: ForwardedPacket, depth: number): Step {
  switch (rule.action) {
    case 'continue':
      return { outcomes: [], leaves: false, continues: true };
    case 'return':
      return { outcomes: [], leaves: true, continues: false };
    case 'jump': {
      const target = rule.jumpTarget ? fw.names.get(rule.jumpTarget) : undefined;
      if (!target || depth >= MAX_JUMPS) return { outcomes: [{ verdict: 'unknown', by: `${by}: jump target ${rule.jumpTarget ?? '(none)'} not found` }], leaves: false, continues: false };
      const inner = run(fw, target, rule.jumpTarget!, p, depth + 1);
      return { outcomes: inner.filter((o): o is Outcome => o !== 'return'), leaves: false, continues: inner.includes('return') };
    }
    case undefined:
      return { outcomes: [{ verdict: 'unknown', by }], leaves: false, continues: false };
    default:
      return { outcomes: [actionOutcome(rule.action, by)], leaves: false, continues: false };
  }
}

/**
 * The fate of the packet in the forward filter: accept or drop when every path agrees, unknown
 * otherwise; `by` names the deciding element (the first dropping one, for a drop).
 */
export function forwardOutcome(fw: FirewallIpv4, p: ForwardedPacket): Outcome {
  if (!fw.forward) return { verdict: 'accept', by: 'no firewall ipv4 forward filter' };
  const outcomes: Outcome[] = run(fw, fw.forward, null, p, 0).map((o) =>
    // `return` in the base chain skips its default-action rule (the chain's last rule) and meets
    // the chain policy, which nftables.j2 hard-codes to accept.
    o === 'return' ? { verdict: 'accept', by: 'forward filter rule with action return (the chain policy accepts)' } : o,
  );
  const verdicts = new Set(outcomes.map((o) => o.verdict));
  if (verdicts.size === 1) {
    const [verdict] = verdicts;
    return { verdict, by: outcomes.find((o) => o.verdict === verdict)!.by };
  }
  const drop = outcomes.find((o) => o.verdict === 'drop');
  return { verdict: 'unknown', by: drop ? `${drop.by}, unless an earlier rule this server cannot evaluate accepts it` : outcomes.map((o) => o.by).join('; ') };
}

/**
 * VyOS 1.3's model as the same chains (vyatta-cfg-firewall, equuleus): forwarded traffic meets the
 * ruleset bound `in` on the interface it arrived on, then any bound `out` on the interface it
 * leaves by (which one that is, the server does not know: those are undecidable jumps). In a 1.3
 * ruleset `accept` returns to the hook (iptables RETURN) and the unset default-action is drop;
 * iptables' FORWARD policy stays ACCEPT (firewall.init.in never sets it).
 */
export function readFirewall13(firewall: unknown, ethernet: unknown, wanInterface: string): FirewallIpv4 {
  const names = new Map<string, FirewallChain>();
  const root = isObject(firewall) ? firewall : {};
  if (isObject(root.name)) {
    for (const [name, node] of Object.entries(root.name)) {
      if (!isObject(node)) continue;
      const chain = readChain(node);
      const returning = (a: string | undefined) => (a === 'accept' ? 'return' : a);
      names.set(name, { defaultAction: returning(chain.defaultAction), rules: chain.rules.map((r) => ({ ...r, action: returning(r.action) })) });
    }
  }
  const bound = (iface: unknown, dir: 'in' | 'out'): string | undefined => {
    const fw = isObject(iface) && isObject(iface.firewall) ? iface.firewall[dir] : undefined;
    return isObject(fw) ? text(fw.name) : undefined;
  };
  const interfaces = isObject(ethernet) ? ethernet : {};
  const rules: FirewallRule[] = [];
  const inbound = bound(interfaces[wanInterface], 'in');
  if (inbound) rules.push({ number: 1, action: 'jump', jumpTarget: inbound, disabled: false, node: {} });
  for (const [name, iface] of Object.entries(interfaces)) {
    const outbound = name === wanInterface ? undefined : bound(iface, 'out');
    if (outbound) rules.push({ number: rules.length + 1, action: 'jump', jumpTarget: outbound, disabled: false, node: { 'outbound-interface': { name } } });
  }
  const bindings = rules.map((r) => `${r.number === 1 && inbound ? `in ${inbound} on ${wanInterface}` : `out ${r.jumpTarget} on ${(r.node['outbound-interface'] as { name: string }).name}`}`);
  const label = bindings.length ? `VyOS 1.3 rulesets (${bindings.join(', ')})` : 'VyOS 1.3: no ruleset bound to the ethernet interfaces';
  return { forward: rules.length ? { rules } : null, names, model: '1.3', label };
}
