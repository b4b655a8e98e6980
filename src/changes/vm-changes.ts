// Change sets for VMs and port rules: database edits plus the router intent, run by the
// coordinator inside the batch transaction under the router lock.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { intToIpv4, ipv4ToInt, type NumberRange } from '../config.js';
import { nextMark } from '../domain/allocation.js';
import { PortRule, Protocol, Router, Vm, claims } from '../domain/entities/index.js';
import { badInput, conflict, notFound, poolExhausted } from '../domain/errors.js';
import { expectedRouterRule, portsText } from '../domain/rule-mapping.js';
import * as check from '../domain/validation.js';
import type { RouterRule } from '../vyos/types.js';
import type { RuleIntent } from './change-plan.js';
import type { ChangeContext, ChangeSet } from './change-set.js';
import { heldRuleNumbers, poolStart, portClaimed, setPoolMark, unusedValues, type Pool } from './change-store.js';

export interface PortRuleSpec {
  /** unique per VM; the key applyVm matches rules by (vm-apply.ts) */
  name?: string | null;
  /** null: the same as the external port (VyOS with no `translation port`); always so for a range */
  internalPort: number | null;
  externalPort?: number | null;
  /** consecutive ports from the external port; 1 for a single port */
  portCount: number;
  protocol: Protocol;
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
  /** null: VYOS_HAIRPIN_DEFAULT */
  hairpin: boolean | null;
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
  portCount?: number;
  protocol?: Protocol;
  sourceAddress?: string | null;
  description?: string | null;
  enabled?: boolean;
  /** null: back to VYOS_HAIRPIN_DEFAULT */
  hairpin?: boolean | null;
}

// ---- input validation (pure; runs before anything is queued) ----

type RawRule = {
  name?: string | null;
  internalPort?: number | null;
  externalPort?: number | null;
  portCount?: number | null;
  protocol?: Protocol | null;
  sourceAddress?: string | null;
  description?: string | null;
  enabled?: boolean | null;
  hairpin?: boolean | null;
};

/**
 * A range forwards each port to the same port number on the VM. VyOS renders `translation port
 * a-b` as nftables `dnat to addr:a-b` (python/vyos/nat.py), and netfilter keeps a port only when it
 * lies inside that range; any other port is mapped onto the range's first free port, not shifted
 * one by one. So a range's translation port is left out, and only the same numbers can be asked for.
 */
export function rangeKeepsPorts(field: string, internalPort: number | null, externalPort: number | null, portCount: number): void {
  if (portCount === 1 || internalPort === null || internalPort === externalPort) return;
  throw badInput(
    field,
    externalPort === null
      ? 'a port range keeps its port numbers on the VM: omit internalPort, it is the allocated externalPort'
      : `a port range keeps its port numbers on the VM (VyOS cannot shift a range): internalPort must be the external port, ${externalPort}`,
  );
}

export function validatePortRule(field: string, raw: RawRule): PortRuleSpec {
  const externalPort = raw.externalPort == null ? null : check.port(`${field}.externalPort`, raw.externalPort);
  const portCount = check.portCount(`${field}.portCount`, raw.portCount ?? 1, externalPort);
  const internalPort = raw.internalPort == null ? null : check.port(`${field}.internalPort`, raw.internalPort);
  rangeKeepsPorts(`${field}.internalPort`, internalPort, externalPort, portCount);
  return {
    name: raw.name == null ? null : check.ruleName(`${field}.name`, raw.name),
    internalPort,
    externalPort,
    portCount,
    protocol: raw.protocol ?? Protocol.TCP,
    sourceAddress: check.sourceAddress(`${field}.sourceAddress`, raw.sourceAddress),
    description: check.description(`${field}.description`, raw.description),
    enabled: raw.enabled ?? true,
    hairpin: raw.hairpin ?? null,
  };
}

/** `hairpin: true` needs the twin's settings (VYOS_HAIRPIN=on); false and null are always fine. */
export function checkHairpin(field: string, hairpin: boolean | null | undefined, config: Pick<Config, 'hairpin'>): void {
  if (hairpin === true && !config.hairpin) throw badInput(field, 'hairpin needs VYOS_HAIRPIN=on (with VYOS_LAN_INTERFACE, VYOS_PUBLIC_ADDRESS and VYOS_LAN_SUBNET) on the server');
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
  spec.portRules.forEach((r, i) => {
    if (r.externalPort == null) return;
    spec.portRules.slice(0, i).forEach((o, j) => {
      const t = transports(r.protocol).find((x) => transports(o.protocol).includes(x));
      if (o.externalPort == null || t === undefined || !overlaps(r.externalPort!, r.portCount, o.externalPort, o.portCount)) return;
      const field = `input.portRules[${i}].externalPort`;
      throw conflict(`${field}: ${portsText(r.externalPort!, r.portCount)}/${t} overlaps input.portRules[${j}] (${portsText(o.externalPort, o.portCount)})`, { field });
    });
  });
  return spec;
}

export function validatePatch(raw: Omit<RawRule, 'name'>): PortRulePatch {
  const patch: PortRulePatch = {};
  if (raw.externalPort != null) patch.externalPort = check.port('input.externalPort', raw.externalPort);
  if (raw.internalPort != null) patch.internalPort = check.port('input.internalPort', raw.internalPort);
  if (raw.portCount != null) patch.portCount = check.portCount('input.portCount', raw.portCount, patch.externalPort ?? null);
  if (raw.protocol != null) patch.protocol = raw.protocol;
  // explicit null clears an optional field; absent leaves it
  if (raw.sourceAddress !== undefined) patch.sourceAddress = check.sourceAddress('input.sourceAddress', raw.sourceAddress);
  if (raw.description !== undefined) patch.description = check.description('input.description', raw.description);
  if (raw.enabled != null) patch.enabled = raw.enabled;
  if (raw.hairpin !== undefined) patch.hairpin = raw.hairpin;
  return patch;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

function overlaps(a: number, aCount: number, b: number, bCount: number): boolean {
  return a < b + bCount && b < a + aCount;
}

export function transports(p: Protocol): ('tcp' | 'udp')[] {
  const c = claims(p);
  return [...(c.tcp ? ['tcp' as const] : []), ...(c.udp ? ['udp' as const] : [])];
}

// ---- allocation, under the router lock: indexed probes from each pool's mark (issue 16) ----

/** Values probed per query: a few, since the mark normally points at a free one. */
const PROBE = 16;

/**
 * Allocates for one change set. What it took but has not flushed yet counts as used; what the
 * router holds (the runner's picture) is never handed out: a rule number any rule has, a port a
 * rule other than ours catches on the WAN (read as drift reads it), disabled ones too.
 */
export class Allocator {
  private readonly claimed: Record<Pool, Set<number>> = { rule_number: new Set(), tcp_port: new Set(), udp_port: new Set(), lan_address: new Set() };
  private readonly starts = new Map<Pool, number>();

  private constructor(private readonly ctx: ChangeContext) {}

  get config(): Config {
    return this.ctx.config;
  }

  /** the router whose pools these are */
  private get router(): string {
    return this.ctx.config.routerName;
  }

  static async load(ctx: ChangeContext): Promise<Allocator> {
    return new Allocator(ctx);
  }

  ruleNumber(): Promise<number> {
    return this.take(['rule_number'], this.ctx.config.natRuleRange, 'NAT_RULE_RANGE', async (n) => {
      if (!this.ctx.router.rules.has(n)) return false;
      this.ctx.avoided.add(n);
      return true;
    });
  }

  /** The lowest free LAN address. */
  async address(): Promise<string> {
    const pool = this.ctx.config.lanPool;
    const n = await this.take(['lan_address'], { first: ipv4ToInt(pool.first)!, last: ipv4ToInt(pool.last)! }, 'LAN_POOL', async () => false);
    return intToIpv4(n);
  }

  /**
   * The first of `count` consecutive external ports: an explicit start is checked, an absent one
   * is allocated (the lowest free run). Either way every port of the run is claimed.
   */
  async externalPort(field: string, protocol: Protocol, wanted: number | null | undefined, count: number, ignore?: PortRule): Promise<number> {
    const need = claims(protocol);
    const pools = portPools(need);
    const ignoreId = ignore?.id ?? null;
    let port: number;
    if (wanted == null) {
      port = await this.take(pools, this.ctx.config.externalPortRange, 'EXTERNAL_PORT_RANGE', (p) => this.caughtByOthers(p, need, ignore), ignoreId, count);
    } else {
      if (await this.runTaken(pools, need, wanted, count, ignore)) {
        throw conflict(`${field}: port ${count === 1 ? wanted : `range ${portsText(wanted, count)}`} is already forwarded for ${protocol}`, { field });
      }
      port = wanted;
    }
    for (const p of pools) for (let v = port; v < port + count; v++) this.claimed[p].add(v);
    return port;
  }

  /** Some port of the run is claimed here, by another rule in the database, or by a foreign rule on the router. */
  private async runTaken(pools: Pool[], need: { tcp: boolean; udp: boolean }, first: number, count: number, ignore?: PortRule): Promise<boolean> {
    for (let v = first; v < first + count; v++) if (pools.some((p) => this.claimed[p].has(v))) return true;
    if (await portClaimed(this.ctx.em, this.router, need, first, count, ignore?.id ?? null)) return true;
    for (let v = first; v < first + count; v++) if (await this.caughtByOthers(v, need, ignore)) return true;
    return false;
  }

  /** A rule on the router catches `port` and is not one of ours (a rule of ours is judged by the database). */
  private async caughtByOthers(port: number, need: { tcp: boolean; udp: boolean }, ignore?: PortRule): Promise<boolean> {
    const catching = this.ctx.router.catching(port, need).filter((n) => n !== ignore?.ruleNumber && !this.claimed.rule_number.has(n));
    if (catching.length === 0) return false;
    const ours = await heldRuleNumbers(this.ctx.em, this.router, catching);
    const others = catching.filter((n) => !ours.has(n));
    for (const n of others) this.ctx.avoided.add(n);
    return others.length > 0;
  }

  /**
   * The lowest start of `count` consecutive values of `range` unused in every pool of `pools`,
   * not claimed here and not `held`; then each pool's mark moves to its lowest value still free
   * (allocation_mark.ts).
   */
  private async take(pools: Pool[], range: NumberRange, name: string, held: (n: number) => Promise<boolean>, ignoreRule: string | null = null, count = 1): Promise<number> {
    const { em } = this.ctx;
    const starts: number[] = [];
    for (const p of pools) starts.push(this.starts.get(p) ?? (await poolStart(em, this.router, p, range.first)));
    const limit = Math.max(PROBE, count);
    let from = Math.max(...starts);
    let firstProbe: number[] | null = null;
    let pick: number | null = null;
    let run: { first: number; last: number } | null = null;
    while (pick === null) {
      const free = await unusedValues(em, this.router, pools, from, range.last, limit, ignoreRule);
      firstProbe ??= free;
      for (const v of free) {
        if (pools.some((p) => this.claimed[p].has(v)) || (await held(v))) {
          run = null;
          continue;
        }
        run = run !== null && v === run.last + 1 ? { first: run.first, last: v } : { first: v, last: v };
        if (run.last - run.first + 1 === count) {
          pick = run.first;
          break;
        }
      }
      if (pick !== null) break;
      if (free.length < limit) throw poolExhausted(name);
      from = free[free.length - 1] + 1;
    }
    for (const [i, p] of pools.entries()) {
      const free = pools.length === 1 ? firstProbe! : await unusedValues(em, this.router, [p], starts[i], range.last, limit, ignoreRule);
      const chosen = pick;
      const next = nextMark(free, (v) => (v >= chosen && v < chosen + count) || this.claimed[p].has(v), range.last);
      await setPoolMark(em, this.router, p, range.first, next);
      this.starts.set(p, next);
    }
    return pick;
  }
}

function portPools(need: { tcp: boolean; udp: boolean }): Pool[] {
  return [...(need.tcp ? ['tcp_port' as const] : []), ...(need.udp ? ['udp_port' as const] : [])];
}

export function intentFor(rule: PortRule, vm: Vm, config: Config): RuleIntent {
  return { ruleNumber: rule.ruleNumber, desired: expectedRouterRule(rule, vm, config.wanInterface) };
}

export function routerRuleFor(rule: PortRule, vm: Vm, config: Config): RouterRule {
  return expectedRouterRule(rule, vm, config.wanInterface);
}

/** `withRules`: load its rules too (a change that reads or removes them); an add needs only the VM. */
export async function findVm(em: EntityManager, id: string, withRules = true): Promise<Vm> {
  const vm = isUuid(id) ? await em.findOne(Vm, { id }, withRules ? { populate: ['portRules'] } : {}) : null;
  if (!vm) throw notFound('VM', id);
  return vm;
}

async function findRule(em: EntityManager, id: string): Promise<PortRule> {
  const rule = isUuid(id) ? await em.findOne(PortRule, { id }, { populate: ['vm'] }) : null;
  if (!rule) throw notFound('port rule', id);
  return rule;
}

export async function newRule(em: EntityManager, vm: Vm, spec: PortRuleSpec, alloc: Allocator, field: string): Promise<PortRule> {
  checkHairpin(`${field}.hairpin`, spec.hairpin, alloc.config);
  const ruleNumber = await alloc.ruleNumber();
  const externalPort = await alloc.externalPort(`${field}.externalPort`, spec.protocol, spec.externalPort, spec.portCount);
  const rule = em.create(PortRule, {
    vm,
    router: vm.router,
    name: spec.name ?? null,
    ruleNumber,
    protocol: spec.protocol,
    externalPort,
    internalPort: spec.internalPort ?? externalPort,
    portCount: spec.portCount,
    sourceAddress: spec.sourceAddress,
    description: spec.description,
    enabled: spec.enabled,
    hairpin: spec.hairpin,
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
      const alloc = await Allocator.load(ctx);
      let ip = spec.internalIp;
      if (ip) {
        if (await em.count(Vm, { router: { name: config.routerName }, internalIp: ip })) throw conflict(`input.internalIp: ${ip} is already used by another VM on router ${config.routerName}`, { field: 'input.internalIp' });
      } else {
        ip = await alloc.address();
      }
      const vm = em.create(Vm, { name: spec.name, router: em.getReference(Router, config.routerName), internalIp: ip, macAddress: spec.macAddress, idempotencyKey: spec.idempotencyKey });
      const rules: PortRule[] = [];
      for (const [i, r] of spec.portRules.entries()) rules.push(await newRule(em, vm, r, alloc, `input.portRules[${i}]`));
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
      // Not its other rules: loading them made an add cost in proportion to the VM's size (issue 16).
      const vm = await findVm(ctx.em, vmId, false);
      const rule = await newRule(ctx.em, vm, spec, await Allocator.load(ctx), 'input');
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
      // a range's internal port is its external one, so it moves with it; a single port's stays
      const follows = rule.portCount > 1;
      const count = check.portCount('input.portCount', patch.portCount ?? rule.portCount, patch.externalPort ?? rule.externalPort);
      if (patch.protocol !== undefined || patch.externalPort !== undefined || count !== rule.portCount) {
        const alloc = await Allocator.load(ctx);
        rule.externalPort = await alloc.externalPort('input.externalPort', protocol, patch.externalPort ?? rule.externalPort, count, rule);
      }
      const internal = patch.internalPort ?? (follows ? rule.externalPort : rule.internalPort);
      rangeKeepsPorts('input.internalPort', internal, rule.externalPort, count);
      rule.protocol = protocol;
      rule.portCount = count;
      rule.internalPort = internal;
      if (patch.sourceAddress !== undefined) rule.sourceAddress = patch.sourceAddress;
      if (patch.description !== undefined) rule.description = patch.description;
      if (patch.enabled !== undefined) rule.enabled = patch.enabled;
      if (patch.hairpin !== undefined) {
        checkHairpin('input.hairpin', patch.hairpin, ctx.config);
        rule.hairpin = patch.hairpin;
      }
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
