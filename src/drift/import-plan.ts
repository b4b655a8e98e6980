// Which hand-made rules inside our range can become PortRule rows, and why the others cannot.
// Pure: router rules and database facts in, decisions out.
import { ipv4ToInt } from '../config.js';
import { Protocol, claims } from '../domain/entities/protocol.js';
import { AppError } from '../domain/errors.js';
import * as check from '../domain/validation.js';
import { singlePort } from '../vyos/traffic-match.js';
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
  /** external ports already claimed in the database, per transport -> the rule number holding it */
  tcp: ReadonlyMap<number, number>;
  udp: ReadonlyMap<number, number>;
  wanInterface: string;
  createVms: boolean;
}

export interface Adoption {
  /** an existing VM, or one to create for the translation address */
  vm: { existing: KnownVm } | { create: { name: string; internalIp: string } };
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
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
  const tcp = new Map(facts.tcp);
  const udp = new Map(facts.udp);
  const creating = new Map<string, string>();
  const decisions: ImportDecision[] = [];
  for (const rule of [...candidates].sort((a, b) => a.ruleNumber - b.ruleNumber)) {
    const result = decide(rule, facts, tcp, udp, creating);
    if (typeof result === 'string') {
      decisions.push({ routerRule: rule, reason: result });
      continue;
    }
    const need = claims(result.protocol);
    if (need.tcp) tcp.set(result.externalPort, rule.ruleNumber);
    if (need.udp) udp.set(result.externalPort, rule.ruleNumber);
    if ('create' in result.vm) creating.set(result.vm.create.internalIp, result.vm.create.name);
    decisions.push({ routerRule: rule, adopt: result });
  }
  return decisions;
}

function decide(
  rule: RouterRule,
  facts: ImportFacts,
  tcp: ReadonlyMap<number, number>,
  udp: ReadonlyMap<number, number>,
  creating: ReadonlyMap<string, string>,
): Adoption | string {
  const protocol = PROTOCOLS.get(rule.protocol);
  if (!protocol) return `protocol ${rule.protocol ?? '(none, meaning all)'} is not one of tcp, udp, tcp_udp`;
  const externalPort = singlePort(rule.externalPort);
  if (externalPort === null) return `destination port ${rule.externalPort ?? '(none)'} is not a single port`;
  // No translation port means "keep the port": the same number on the VM.
  const internalPort = rule.internalPort === undefined ? externalPort : singlePort(rule.internalPort);
  if (internalPort === null) return `translation port ${rule.internalPort} is not a single port`;
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
  const holder = (need.tcp ? tcp.get(externalPort) : undefined) ?? (need.udp ? udp.get(externalPort) : undefined);
  if (holder !== undefined) return `external port ${externalPort} is already forwarded by rule ${holder}`;

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
  return { vm, ruleNumber: rule.ruleNumber, protocol, externalPort, internalPort, sourceAddress, description, enabled: !rule.disabled };
}
