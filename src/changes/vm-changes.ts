// Change sets for VMs and port rules: database edits plus the router intent, run by the
// coordinator inside the batch transaction under the router lock.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { allocateIpv4, allocateNumber, allocatePort } from '../domain/allocation.js';
import { PortRule, Protocol, Vm, claims } from '../domain/entities/index.js';
import { badInput, conflict, notFound } from '../domain/errors.js';
import { expectedRouterRule } from '../domain/rule-mapping.js';
import * as check from '../domain/validation.js';
import { ruleCatchment } from '../vyos/traffic-match.js';
import type { RouterRule } from '../vyos/types.js';
import type { RuleIntent } from './change-plan.js';
import type { ChangeContext, ChangeSet } from './change-set.js';
import { portClaims, vmAddresses } from './change-store.js';

export interface PortRuleSpec {
  /** unique per VM; the key applyVm matches rules by (vm-apply.ts) */
  name?: string | null;
  internalPort: number;
  externalPort?: number | null;
  protocol: Protocol;
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
}

export interface ProvisionSpec {
  name: string;
  internalIp: string | null;
  macAddress: string | null;
  portRules: PortRuleSpec[];
  idempotencyKey: string | null;
}

export interface PortRulePatch {
  externalPort?: number;
  internalPort?: number;
  protocol?: Protocol;
  sourceAddress?: string | null;
  description?: string | null;
  enabled?: boolean;
}

// ---- input validation (pure; runs before anything is queued) ----

type RawRule = { name?: string | null; internalPort: number; externalPort?: number | null; protocol?: Protocol | null; sourceAddress?: string | null; description?: string | null; enabled?: boolean | null };

export function validatePortRule(field: string, raw: RawRule): PortRuleSpec {
  return {
    name: raw.name == null ? null : check.ruleName(`${field}.name`, raw.name),
    internalPort: check.port(`${field}.internalPort`, raw.internalPort),
    externalPort: raw.externalPort == null ? null : check.port(`${field}.externalPort`, raw.externalPort),
    protocol: raw.protocol ?? Protocol.TCP,
    sourceAddress: check.sourceAddress(`${field}.sourceAddress`, raw.sourceAddress),
    description: check.description(`${field}.description`, raw.description),
    enabled: raw.enabled ?? true,
  };
}

export function validateProvision(raw: { name: string; internalIp?: string | null; macAddress?: string | null; portRules?: RawRule[] | null; idempotencyKey?: string | null }): ProvisionSpec {
  const rules = raw.portRules ?? [];
  if (rules.length > 100) throw badInput('input.portRules', 'at most 100 port rules per VM');
  const key = raw.idempotencyKey?.trim() || null;
  if (key !== null && (key.length > 200 || !/^[\x21-\x7e]+$/.test(key))) {
    throw badInput('input.idempotencyKey', 'must be 1-200 printable ASCII characters without spaces');
  }
  const spec: ProvisionSpec = {
    name: check.vmName('input.name', raw.name),
    internalIp: raw.internalIp == null ? null : check.ipv4('input.internalIp', raw.internalIp),
    macAddress: check.macAddress('input.macAddress', raw.macAddress),
    portRules: rules.map((r, i) => validatePortRule(`input.portRules[${i}]`, r)),
    idempotencyKey: key,
  };
  const names = new Map<string, number>();
  spec.portRules.forEach((r, i) => {
    if (r.name == null) return;
    if (names.has(r.name)) throw badInput(`input.portRules[${i}].name`, `"${r.name}" is also the name of input.portRules[${names.get(r.name)}]`);
    names.set(r.name, i);
  });
  const seen = new Map<string, number>();
  spec.portRules.forEach((r, i) => {
    if (r.externalPort == null) return;
    for (const t of transports(r.protocol)) {
      const k = `${t}/${r.externalPort}`;
      if (seen.has(k)) throw conflict(`input.portRules[${i}].externalPort: ${r.externalPort}/${t} is also requested by input.portRules[${seen.get(k)}]`, { field: `input.portRules[${i}].externalPort` });
      seen.set(k, i);
    }
  });
  return spec;
}

export function validatePatch(raw: { externalPort?: number | null; internalPort?: number | null; protocol?: Protocol | null; sourceAddress?: string | null; description?: string | null; enabled?: boolean | null }): PortRulePatch {
  const patch: PortRulePatch = {};
  if (raw.externalPort != null) patch.externalPort = check.port('input.externalPort', raw.externalPort);
  if (raw.internalPort != null) patch.internalPort = check.port('input.internalPort', raw.internalPort);
  if (raw.protocol != null) patch.protocol = raw.protocol;
  // explicit null clears an optional field; absent leaves it
  if (raw.sourceAddress !== undefined) patch.sourceAddress = check.sourceAddress('input.sourceAddress', raw.sourceAddress);
  if (raw.description !== undefined) patch.description = check.description('input.description', raw.description);
  if (raw.enabled != null) patch.enabled = raw.enabled;
  return patch;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

export function transports(p: Protocol): ('tcp' | 'udp')[] {
  const c = claims(p);
  return [...(c.tcp ? ['tcp' as const] : []), ...(c.udp ? ['udp' as const] : [])];
}

// ---- allocation state, read under the router lock ----

export class Allocator {
  private constructor(
    private readonly config: Config,
    readonly ruleNumbers: Set<number>,
    readonly tcp: Set<number>,
    readonly udp: Set<number>,
  ) {}

  static async load(ctx: ChangeContext): Promise<Allocator> {
    const rows = await portClaims(ctx.em);
    const a = new Allocator(ctx.config, new Set(), new Set(), new Set());
    for (const r of rows) {
      a.ruleNumbers.add(r.rule_number);
      if (r.tcp_port !== null) a.tcp.add(r.tcp_port);
      if (r.udp_port !== null) a.udp.add(r.udp_port);
    }
    const ours = new Set(a.ruleNumbers);
    // Never hand out a number, or a port someone else's rule catches on the WAN (read as drift
    // reads it); disabled ones too, since they may be enabled again.
    for (const rule of ctx.routerRules.values()) {
      if (ours.has(rule.ruleNumber)) continue;
      a.ruleNumbers.add(rule.ruleNumber);
      const caught = ruleCatchment(rule, ctx.config.wanInterface);
      for (const [first, last] of caught.ports) {
        for (let port = first; port <= last; port++) {
          if (caught.tcp) a.tcp.add(port);
          if (caught.udp) a.udp.add(port);
        }
      }
    }
    return a;
  }

  ruleNumber(): number {
    const n = allocateNumber(this.config.natRuleRange, this.ruleNumbers, 'NAT_RULE_RANGE');
    this.ruleNumbers.add(n);
    return n;
  }

  /** An explicit port is checked; an absent one is allocated. Either way it is claimed. */
  externalPort(field: string, protocol: Protocol, wanted: number | null | undefined, ignore?: PortRule): number {
    const need = claims(protocol);
    if (ignore) this.release(ignore);
    let port: number;
    if (wanted == null) {
      port = allocatePort(this.config.externalPortRange, this.tcp, this.udp, need);
    } else {
      if ((need.tcp && this.tcp.has(wanted)) || (need.udp && this.udp.has(wanted))) {
        throw conflict(`${field}: port ${wanted} is already forwarded for ${protocol}`, { field });
      }
      port = wanted;
    }
    if (need.tcp) this.tcp.add(port);
    if (need.udp) this.udp.add(port);
    return port;
  }

  private release(rule: PortRule): void {
    if (rule.tcpPort != null) this.tcp.delete(rule.tcpPort);
    if (rule.udpPort != null) this.udp.delete(rule.udpPort);
  }
}

export function intentFor(rule: PortRule, vm: Vm, config: Config): RuleIntent {
  return { ruleNumber: rule.ruleNumber, desired: expectedRouterRule(rule, vm, config.wanInterface) };
}

export function routerRuleFor(rule: PortRule, vm: Vm, config: Config): RouterRule {
  return expectedRouterRule(rule, vm, config.wanInterface);
}

export async function findVm(em: EntityManager, id: string): Promise<Vm> {
  const vm = isUuid(id) ? await em.findOne(Vm, { id }, { populate: ['portRules'] }) : null;
  if (!vm) throw notFound('VM', id);
  return vm;
}

async function findRule(em: EntityManager, id: string): Promise<PortRule> {
  const rule = isUuid(id) ? await em.findOne(PortRule, { id }, { populate: ['vm'] }) : null;
  if (!rule) throw notFound('port rule', id);
  return rule;
}

export function newRule(em: EntityManager, vm: Vm, spec: PortRuleSpec, alloc: Allocator, field: string): PortRule {
  const rule = em.create(PortRule, {
    vm,
    name: spec.name ?? null,
    ruleNumber: alloc.ruleNumber(),
    protocol: spec.protocol,
    externalPort: alloc.externalPort(`${field}.externalPort`, spec.protocol, spec.externalPort),
    internalPort: spec.internalPort,
    sourceAddress: spec.sourceAddress,
    description: spec.description,
    enabled: spec.enabled,
  });
  rule.claimPorts();
  return rule;
}

// ---- the change sets ----

export function provisionVm(spec: ProvisionSpec): ChangeSet<string> {
  return {
    operation: 'provisionVm',
    async prepare(ctx) {
      const { em, config } = ctx;
      if (spec.idempotencyKey) {
        const earlier = await em.findOne(Vm, { idempotencyKey: spec.idempotencyKey });
        if (earlier) return { intents: [], result: earlier.id };
      }
      if (await em.count(Vm, { name: spec.name })) throw conflict(`input.name: a VM named "${spec.name}" already exists`, { field: 'input.name' });
      let ip = spec.internalIp;
      if (ip) {
        if (await em.count(Vm, { internalIp: ip })) throw conflict(`input.internalIp: ${ip} is already used by another VM`, { field: 'input.internalIp' });
      } else {
        const used = await vmAddresses(em);
        ip = allocateIpv4(config.lanPool, new Set(used.map((r) => r.internal_ip)));
      }
      const vm = em.create(Vm, { name: spec.name, internalIp: ip, macAddress: spec.macAddress, idempotencyKey: spec.idempotencyKey });
      const alloc = await Allocator.load(ctx);
      const rules = spec.portRules.map((r, i) => newRule(em, vm, r, alloc, `input.portRules[${i}]`));
      await em.flush();
      return { intents: rules.map((r) => intentFor(r, vm, config)), result: vm.id };
    },
  };
}

export function decommissionVm(id: string): ChangeSet<string> {
  return {
    operation: 'decommissionVm',
    critical: true,
    async prepare({ em }) {
      const vm = await findVm(em, id);
      const intents = vm.portRules.getItems().map((r) => ({ ruleNumber: r.ruleNumber, desired: null }));
      vm.portRules.getItems().forEach((r) => em.remove(r));
      em.remove(vm);
      await em.flush();
      return { intents, result: vm.id };
    },
  };
}

export function addPortRule(vmId: string, spec: PortRuleSpec): ChangeSet<string> {
  return {
    operation: 'addPortRule',
    async prepare(ctx) {
      const vm = await findVm(ctx.em, vmId);
      const rule = newRule(ctx.em, vm, spec, await Allocator.load(ctx), 'input');
      vm.updatedAt = new Date();
      await ctx.em.flush();
      return { intents: [intentFor(rule, vm, ctx.config)], result: rule.id };
    },
  };
}

export function updatePortRule(id: string, patch: PortRulePatch, operation = 'updatePortRule'): ChangeSet<string> {
  return {
    operation,
    async prepare(ctx) {
      const rule = await findRule(ctx.em, id);
      const vm = rule.vm.getEntity();
      const protocol = patch.protocol ?? rule.protocol;
      if (patch.protocol !== undefined || patch.externalPort !== undefined) {
        const alloc = await Allocator.load(ctx);
        rule.externalPort = alloc.externalPort('input.externalPort', protocol, patch.externalPort ?? rule.externalPort, rule);
      }
      rule.protocol = protocol;
      if (patch.internalPort !== undefined) rule.internalPort = patch.internalPort;
      if (patch.sourceAddress !== undefined) rule.sourceAddress = patch.sourceAddress;
      if (patch.description !== undefined) rule.description = patch.description;
      if (patch.enabled !== undefined) rule.enabled = patch.enabled;
      rule.claimPorts();
      rule.needsRepair = false;
      await ctx.em.flush();
      return { intents: [intentFor(rule, vm, ctx.config)], result: rule.id };
    },
  };
}

export function removePortRule(id: string): ChangeSet<string> {
  return {
    operation: 'removePortRule',
    async prepare({ em }) {
      const rule = await findRule(em, id);
      em.remove(rule);
      await em.flush();
      return { intents: [{ ruleNumber: rule.ruleNumber, desired: null }], result: rule.id };
    },
  };
}
