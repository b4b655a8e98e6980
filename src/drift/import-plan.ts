// Which hand-made rules inside our range can become PortRule rows, and why the others cannot.
// Pure: router rules and database facts in, decisions out.
import { ipv4ToInt } from '../config.js';
import { Protocol, claims } from '../domain/entities/protocol.js';
import { AppError } from '../domain/errors.js';
import * as check from '../domain/validation.js';
import { portRun, singlePort, type PortRange } from '../vyos/traffic-match.js';
import type { RouterRule } from '../vyos/types.js';

export interface KnownVm {
  id: string;
  name: string;
  internalIp: string;
}

export interface ImportFacts {
  /** VMs by internal IP */
  vms: ReadonlyMap<string, KnownVm>;
  vmNames: ReadonlySet<string>;
  /** external ports already claimed in the database, per transport: each rule's run of ports */
  tcp: readonly PortClaim[];
  udp: readonly PortClaim[];
  wanInterface: string;
  createVms: boolean;
}

/** The ports `ruleNumber` claims on one transport, first to last. */
export interface PortClaim {
  ports: PortRange;
  ruleNumber: number;
}

export interface Adoption {
  /** an existing VM, or one to create for the translation address */
  vm: { existing: KnownVm } | { create: { name: string; internalIp: string } };
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
  portCount: number;
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
}

export type ImportDecision = { routerRule: RouterRule; adopt: Adoption } | { routerRule: RouterRule; reason: string };

// Only the spellings we render: `6` catches the same traffic as `tcp` but would show as DRIFTED.
const PROTOCOLS: ReadonlyMap<string | undefined, Protocol> = new Map([['tcp', Protocol.TCP], ['udp', Protocol.UDP], ['tcp_udp', Protocol.TCP_UDP]]);

/** `imported-192-168-64-150`: a valid VM name that says where it came from. */
export function importedVmName(ip: string): string {
  return `imported-${ip.replace(/\./g, '-')}`;
}

/**
 * One decision per candidate (rules inside our range that the database does not know), in rule
 * number order. Ports claimed by an earlier adoption in the same import count as taken.
 */
export function planImport(candidates: readonly RouterRule[], facts: ImportFacts): ImportDecision[] {
  const tcp = [...facts.tcp];
  const udp = [...facts.udp];
  const creating = new Map<string, string>();
  const decisions: ImportDecision[] = [];
  for (const rule of [...candidates].sort((a, b) => a.ruleNumber - b.ruleNumber)) {
    const result = decide(rule, facts, tcp, udp, creating);
    if (typeof result === 'string') {
      decisions.push({ routerRule: rule, reason: result });
      continue;
    }
    const need = claims(result.protocol);
    const claim: PortClaim = { ports: [result.externalPort, result.externalPort + result.portCount - 1], ruleNumber: rule.ruleNumber };
    if (need.tcp) tcp.push(claim);
    if (need.udp) udp.push(claim);
    if ('create' in result.vm) creating.set(result.vm.create.internalIp, result.vm.create.name);
    decisions.push({ routerRule: rule, adopt: result });
  }
  return decisions;
}

function decide(
  rule: RouterRule,
  facts: ImportFacts,
  tcp: readonly PortClaim[],
  udp: readonly PortClaim[],
  creating: ReadonlyMap<string, string>,
): Adoption | string {
  const protocol = PROTOCOLS.get(rule.protocol);
  if (!protocol) return `protocol ${rule.protocol ?? '(none, meaning all)'} is not one of tcp, udp, tcp_udp`;
  const run = portRun(rule.externalPort);
  if (run === null) return `destination port ${rule.externalPort ?? '(none)'} is not a single port or one range`;
  const [externalPort, last] = run;
  const portCount = last - externalPort + 1;
  // No translation port means "keep the port": the same number on the VM.
  let internalPort: number | null;
  if (portCount === 1) {
    internalPort = rule.internalPort === undefined ? externalPort : singlePort(rule.internalPort);
    if (internalPort === null) return `translation port ${rule.internalPort} is not a single port`;
  } else {
    // netfilter keeps a port that lies inside the translation range, so the same range keeps them
    // too (vm-changes.ts rangeKeepsPorts); anything else sends many ports to one or a few.
    if (rule.internalPort !== undefined && rule.internalPort !== rule.externalPort) {
      return `translation port ${rule.internalPort} with destination port range ${rule.externalPort} does not keep each port (only no translation port, or the same range, does)`;
    }
    internalPort = externalPort;
  }
  const ip = rule.translationAddress;
  if (ip === undefined || ipv4ToInt(ip) === null) return `translation address ${ip ?? '(none)'} is not one IPv4 address`;
  if (rule.inboundInterface !== undefined && rule.inboundInterface !== facts.wanInterface) {
    return `inbound interface ${rule.inboundInterface} is not VYOS_WAN_INTERFACE (${facts.wanInterface})`;
  }
  let sourceAddress: string | null;
  let description: string | null;
  try {
    sourceAddress = check.sourceAddress('sourceAddress', rule.sourceAddress);
    description = check.description('description', rule.description);
  } catch (e) {
    if (e instanceof AppError) return e.message;
    throw e;
  }
  const need = claims(protocol);
  const overlapping = (held: readonly PortClaim[]) => held.find((c) => c.ports[0] <= last && externalPort <= c.ports[1]);
  const holder = (need.tcp ? overlapping(tcp) : undefined) ?? (need.udp ? overlapping(udp) : undefined);
  if (holder !== undefined) {
    const what = portCount === 1 ? `external port ${externalPort} is` : `external ports ${rule.externalPort} are`;
    return `${what} already forwarded by rule ${holder.ruleNumber}`;
  }

  let vm: Adoption['vm'];
  const known = facts.vms.get(ip);
  if (known) {
    vm = { existing: known };
  } else if (!facts.createVms) {
    return `no VM has internal IP ${ip} (pass createVms: true to create one)`;
  } else {
    const name = creating.get(ip) ?? importedVmName(ip);
    if (!creating.has(ip) && facts.vmNames.has(name)) return `a VM named ${name} already exists with another internal IP`;
    vm = { create: { name, internalIp: ip } };
  }
  return { vm, ruleNumber: rule.ruleNumber, protocol, externalPort, internalPort, portCount, sourceAddress, description, enabled: !rule.disabled };
}
