// Declarative changes of a VM (issue 17): applyVm converges a VM, created if its name is new, to a
// complete desired state, and updateVm changes the VM itself. Each is one change set: one router
// commit (shared with the batch), one database transaction, and nothing sent when nothing differs.
//
// Rules are matched by their `name` (unique per VM). An input rule whose name matches no rule of
// the VM adopts an existing UNNAMED rule with the same internal port and protocol (and the same
// external port, when the input gives one), lowest rule number first: so a VM provisioned before
// rules had names converges without being re-numbered. Matched rules keep their rule number, and
// their external port unless the input names another; unmatched existing rules are removed (their
// numbers and ports are free for the new rules of the same commit).
import type { EntityManager } from '@mikro-orm/postgresql';
import { PortRule, Router, Vm, type Protocol } from '../domain/entities/index.js';
import { badInput, conflict } from '../domain/errors.js';
import * as check from '../domain/validation.js';
import { touchedRuleNumbers } from '../vyos/nat-rule.js';
import type { RouterCommand } from '../vyos/types.js';
import { planCommands, type RuleIntent } from './change-plan.js';
import type { ChangeSet } from './change-set.js';
import { Allocator, checkHairpin, findVm, intentFor, newRule, rangeKeepsPorts, validateProvision, type PortRuleSpec } from './vm-changes.js';

export interface NamedRuleSpec extends PortRuleSpec {
  name: string;
}

export interface ApplySpec {
  name: string;
  /** null: kept (an existing VM) or allocated from LAN_POOL (a new one) */
  internalIp: string | null;
  /** undefined: kept; null: cleared */
  macAddress: string | null | undefined;
  portRules: NamedRuleSpec[];
}

export interface VmPatch {
  name?: string;
  internalIp?: string;
  /** null clears it */
  macAddress?: string | null;
}

export enum RuleChangeKind {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  UNCHANGED = 'UNCHANGED',
  REMOVED = 'REMOVED',
}

/** One rule's fate in an apply (JSON: it is kept as the first result of an idempotency key). */
export interface RuleChangeData {
  name: string;
  change: RuleChangeKind;
  portRuleId: string;
  ruleNumber: number;
  externalPort: number;
}

export interface ApplyOutcome {
  vmId: string;
  created: boolean;
  changed: boolean;
  rules: RuleChangeData[];
  /** this change set's own router commands (the batch may carry others' too) */
  commands: RouterCommand[];
}

// ---- input validation (pure) ----

type RawApplyRule = { name: string; internalPort?: number | null; externalPort?: number | null; portCount?: number | null; hairpin?: boolean | null; protocol?: Protocol | null; sourceAddress?: string | null; description?: string | null; enabled?: boolean | null };

export function validateApply(raw: { name: string; internalIp?: string | null; macAddress?: string | null; portRules: RawApplyRule[] }): ApplySpec {
  raw.portRules.forEach((r, i) => {
    if (r.name == null) throw badInput(`input.portRules[${i}].name`, 'every rule of applyVm needs a name');
  });
  // The provision checks (names, addresses, ports, no port asked for twice), then what applyVm adds.
  const base = validateProvision({ name: raw.name, internalIp: raw.internalIp, macAddress: raw.macAddress, portRules: raw.portRules });
  return {
    name: base.name,
    internalIp: base.internalIp,
    macAddress: raw.macAddress === undefined ? undefined : base.macAddress,
    portRules: base.portRules as NamedRuleSpec[],
  };
}

export function validateVmPatch(raw: { name?: string | null; internalIp?: string | null; macAddress?: string | null }): VmPatch {
  const patch: VmPatch = {};
  if (raw.name != null) patch.name = check.vmName('input.name', raw.name);
  if (raw.internalIp != null) patch.internalIp = check.ipv4('input.internalIp', raw.internalIp);
  if (raw.macAddress !== undefined) patch.macAddress = check.macAddress('input.macAddress', raw.macAddress);
  if (Object.keys(patch).length === 0) throw badInput('input', 'name at least one field to change');
  return patch;
}

// ---- matching (pure) ----

export interface RuleFacts {
  name?: string | null;
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
  portCount: number;
}

export interface RuleMatch<R> {
  /** index into the input rules */
  index: number;
  /** the existing rule it converges, or null: a new rule */
  rule: R | null;
}

/** Pairs input rules with existing ones: by name, then by adoption of an unnamed rule (see the top). */
export function matchRules<R extends RuleFacts>(existing: readonly R[], wanted: readonly NamedRuleSpec[]): { matches: RuleMatch<R>[]; removed: R[] } {
  const left = new Set(existing);
  const byName = new Map(existing.filter((r) => r.name != null).map((r) => [r.name!, r]));
  const matches: RuleMatch<R>[] = wanted.map((w, index) => {
    const rule = byName.get(w.name) ?? null;
    if (rule) left.delete(rule);
    return { index, rule };
  });
  const unnamed = [...left].filter((r) => r.name == null).sort((a, b) => a.ruleNumber - b.ruleNumber);
  for (const m of matches) {
    if (m.rule) continue;
    const w = wanted[m.index];
    const adopt = unnamed.find(
      (r) =>
        left.has(r) &&
        r.internalPort === (w.internalPort ?? r.externalPort) &&
        r.portCount === w.portCount &&
        r.protocol === w.protocol &&
        (w.externalPort == null || r.externalPort === w.externalPort),
    );
    if (adopt) {
      m.rule = adopt;
      left.delete(adopt);
    }
  }
  return { matches, removed: existing.filter((r) => left.has(r)) };
}

/** Changes `rule` to the spec in place (rule number kept; the external port too unless the spec names another). True when anything differed. */
async function converge(rule: PortRule, spec: NamedRuleSpec, alloc: Allocator, field: string): Promise<boolean> {
  const before = JSON.stringify(facts(rule));
  const port = spec.externalPort ?? rule.externalPort;
  const count = check.portCount(`${field}.portCount`, spec.portCount, port);
  if (spec.protocol !== rule.protocol || port !== rule.externalPort || count !== rule.portCount) {
    rule.externalPort = await alloc.externalPort(`${field}.externalPort`, spec.protocol, port, count, rule);
  }
  rangeKeepsPorts(`${field}.internalPort`, spec.internalPort, rule.externalPort, count);
  rule.name = spec.name;
  rule.protocol = spec.protocol;
  rule.portCount = count;
  rule.internalPort = spec.internalPort ?? rule.externalPort;
  rule.sourceAddress = spec.sourceAddress;
  rule.description = spec.description;
  rule.enabled = spec.enabled;
  checkHairpin(`${field}.hairpin`, spec.hairpin, alloc.config);
  rule.hairpin = spec.hairpin;
  rule.claimPorts();
  return JSON.stringify(facts(rule)) !== before;
}

function facts(r: PortRule) {
  return [r.name ?? null, r.protocol, r.externalPort, r.internalPort, r.portCount, r.sourceAddress ?? null, r.description ?? null, r.enabled, r.hairpin ?? null];
}

/** The commands of the batch that touch this change set's rules: what it sent itself. */
function ownCommands(commands: readonly RouterCommand[], intents: readonly RuleIntent[]): RouterCommand[] {
  const mine = new Set(intents.map((i) => i.ruleNumber));
  return commands.filter((c) => touchedRuleNumbers([c]).some((n) => mine.has(n)));
}

async function takeIp(em: EntityManager, router: string, ip: string, field: string, vm: Vm | null): Promise<void> {
  const holder = await em.findOne(Vm, { router: { name: router }, internalIp: ip });
  if (holder && holder.id !== vm?.id) throw conflict(`${field}: ${ip} is already used by another VM on router ${router}`, { field });
}

// ---- the change sets ----

export function applyVm(spec: ApplySpec): ChangeSet<ApplyOutcome> {
  let intents: RuleIntent[] = [];
  return {
    operation: 'applyVm',
    async prepare(ctx) {
      const { em } = ctx;
      const alloc = await Allocator.load(ctx);
      const found: Vm | null = await em.findOne(Vm, { name: spec.name }, { populate: ['portRules'] });
      const created = found === null;
      let vm: Vm;
      let vmChanged = false;
      if (!found) {
        let ip = spec.internalIp;
        if (ip) await takeIp(em, ctx.config.routerName, ip, 'input.internalIp', null);
        else ip = await alloc.address();
        vm = em.create(Vm, { name: spec.name, router: em.getReference(Router, ctx.config.routerName), internalIp: ip, macAddress: spec.macAddress ?? null });
      } else {
        vm = found;
        if (spec.internalIp && spec.internalIp !== vm.internalIp) {
          await takeIp(em, ctx.config.routerName, spec.internalIp, 'input.internalIp', vm);
          vm.internalIp = spec.internalIp;
          vmChanged = true;
        }
        if (spec.macAddress !== undefined && spec.macAddress !== (vm.macAddress ?? null)) {
          vm.macAddress = spec.macAddress;
          vmChanged = true;
        }
      }
      const { matches, removed } = matchRules(created ? [] : vm.portRules.getItems(), spec.portRules);
      // Removed first: their ports and numbers are free for this change (their router rules go in the same commit).
      for (const r of removed) em.remove(r);
      await em.flush();
      const rules: RuleChangeData[] = [];
      const kept: PortRule[] = [];
      for (const { index, rule } of matches) {
        const field = `input.portRules[${index}]`;
        const wanted = spec.portRules[index];
        let change: RuleChangeKind;
        let r: PortRule;
        if (rule) {
          change = (await converge(rule, wanted, alloc, field)) || rule.needsRepair ? RuleChangeKind.UPDATED : RuleChangeKind.UNCHANGED;
          // The intent below puts the rule on the router as the database has it.
          rule.needsRepair = false;
          r = rule;
        } else {
          r = await newRule(em, vm, wanted, alloc, field);
          change = RuleChangeKind.CREATED;
        }
        kept.push(r);
        rules.push({ name: wanted.name, change, portRuleId: r.id, ruleNumber: r.ruleNumber, externalPort: r.externalPort });
      }
      for (const r of removed) rules.push({ name: r.name ?? `#${r.ruleNumber}`, change: RuleChangeKind.REMOVED, portRuleId: r.id, ruleNumber: r.ruleNumber, externalPort: r.externalPort });
      const dbChanged = created || vmChanged || rules.some((r) => r.change !== RuleChangeKind.UNCHANGED);
      if (dbChanged) vm.updatedAt = new Date();
      await em.flush();
      // Every kept rule is an intent, unchanged ones too: the plan leaves those alone when the router
      // has them right, and repairs them when it does not (that is what converging means).
      intents = [...removed.map((r) => ({ ruleNumber: r.ruleNumber, desired: null })), ...kept.map((r) => intentFor(r, vm, ctx.config))];
      const commands = planCommands(intents, ctx.routerRules, ctx.syntax);
      return { intents, result: { vmId: vm.id, created, changed: dbChanged || commands.length > 0, rules, commands } };
    },
    // What the batch sent for this VM's rules (the plan above, as it went out).
    complete: (outcome, batch) => (intents.length ? { ...outcome, commands: ownCommands(batch.commands, intents) } : outcome),
  };
}

export function updateVm(id: string, patch: VmPatch): ChangeSet<string> {
  return {
    operation: 'updateVm',
    async prepare(ctx) {
      const { em, config } = ctx;
      const vm = await findVm(em, id);
      if (patch.name !== undefined && patch.name !== vm.name) {
        if (await em.count(Vm, { name: patch.name, id: { $ne: vm.id } })) throw conflict(`input.name: a VM named "${patch.name}" already exists`, { field: 'input.name' });
        vm.name = patch.name;
      }
      if (patch.internalIp !== undefined && patch.internalIp !== vm.internalIp) {
        await takeIp(em, config.routerName, patch.internalIp, 'input.internalIp', vm);
        vm.internalIp = patch.internalIp;
      }
      if (patch.macAddress !== undefined) vm.macAddress = patch.macAddress;
      await em.flush();
      // An address moves every rule's translation; a name moves the default description: the plan
      // sends only the rules that now differ on the router.
      return { intents: vm.portRules.getItems().map((r) => intentFor(r, vm, config)), result: vm.id };
    },
  };
}
