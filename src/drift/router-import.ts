// importRouterRules: bring hand-made rules inside our range under management instead of deleting
// them. Adopted rules keep their number, ports, protocol, source address, description and state;
// what our rendering adds (the WAN interface, a default description, an explicit translation
// port) is written to the router in the same commit, so the report is in sync afterwards.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { byRuleNumber, planCommands, type RuleIntent } from '../changes/change-plan.js';
import { PortRule, Router, Vm } from '../domain/entities/index.js';
import { expectedRouterRule } from '../domain/rule-mapping.js';
import type { NatSyntax, RouterCommand, RouterRule } from '../vyos/types.js';
import { DriftKind, type SyncReportData } from './drift-diff.js';
import { planImport, type Adoption, type ImportFacts, type KnownVm, type PortClaim } from './import-plan.js';
import { expectedRules, portClaims, vmAddresses } from '../changes/change-store.js';
import { compare, snapshot, routerSyntax, takeSyncReport, underLock, type DriftDeps } from './sync-report.js';

export interface ImportedRule {
  ruleNumber: number;
  vmName: string;
  vmCreated: boolean;
  /** the new row's id; null on a dry run */
  portRuleId: string | null;
  routerRule: RouterRule;
}

export interface SkippedRule {
  ruleNumber: number;
  reason: string;
  routerRule: RouterRule;
}

export interface ImportOutcome {
  dryRun: boolean;
  adopted: ImportedRule[];
  skipped: SkippedRule[];
  /** router commands that normalise adopted rules to our rendering (usually few or none) */
  commands: RouterCommand[];
  /** dry run: the report before; otherwise the report taken after the import */
  report: SyncReportData;
}

interface Prepared {
  intents: RuleIntent[];
  adopted: ImportedRule[];
  skipped: SkippedRule[];
  commands: RouterCommand[];
}

export async function importRouterRules(deps: DriftDeps, opts: { dryRun: boolean; createVms: boolean }): Promise<ImportOutcome> {
  const syntax = await routerSyntax(deps);
  if (opts.dryRun) {
    const snap = await underLock(deps, async (em) => {
      const s = await snapshot(em, deps);
      return { ...s, prepared: await prepareImport(em, deps.config, s.routerRules, opts.createVms, syntax, false) };
    });
    const { adopted, skipped, commands } = snap.prepared;
    return { dryRun: true, adopted, skipped, commands, report: snap.report };
  }
  const prepared = await deps.coordinator.submit({
    operation: 'importRouterRules',
    critical: true,
    wholePicture: true,
    async prepare(ctx) {
      const p = await prepareImport(ctx.em, ctx.config, [...ctx.routerRules.values()], opts.createVms, syntax, true);
      return { intents: p.intents, result: p };
    },
  });
  const { adopted, skipped, commands } = prepared;
  return { dryRun: false, adopted, skipped, commands, report: await takeSyncReport(deps) };
}

async function loadFacts(em: EntityManager, config: Config, createVms: boolean): Promise<ImportFacts> {
  const vms = await vmAddresses(em, config.routerName);
  const ports = await portClaims(em, config.routerName);
  // VM names are unique across the fleet, addresses per router
  const names = await em.execute<{ name: string }[]>('select name from vm');
  const tcp: PortClaim[] = [];
  const udp: PortClaim[] = [];
  for (const p of ports) {
    if (p.tcp_port !== null) tcp.push({ ports: [p.tcp_port, p.tcp_port + p.port_count - 1], ruleNumber: p.rule_number });
    if (p.udp_port !== null) udp.push({ ports: [p.udp_port, p.udp_port + p.port_count - 1], ruleNumber: p.rule_number });
  }
  return {
    vms: new Map(vms.map((v): [string, KnownVm] => [v.internal_ip, { id: v.id, name: v.name, internalIp: v.internal_ip }])),
    vmNames: new Set(names.map((v) => v.name)),
    tcp,
    udp,
    wanInterface: config.wanInterface,
    createVms,
  };
}

/** Decides, and when `write` creates the VMs and rows; returns the intents that normalise adopted rules. */
async function prepareImport(em: EntityManager, config: Config, routerRules: RouterRule[], createVms: boolean, syntax: NatSyntax, write: boolean): Promise<Prepared> {
  const expected = await expectedRules(em, config);
  const candidates = compare(expected, routerRules, config)
    .items.filter((i) => i.kind === DriftKind.UNMANAGED_ON_ROUTER && i.routerRule)
    .map((i) => i.routerRule as RouterRule);
  const decisions = planImport(candidates, await loadFacts(em, config, createVms));

  const created = new Map<string, Vm>();
  const intents: RuleIntent[] = [];
  const adopted: ImportedRule[] = [];
  const skipped: SkippedRule[] = [];
  for (const d of decisions) {
    if ('reason' in d) {
      skipped.push({ ruleNumber: d.routerRule.ruleNumber, reason: d.reason, routerRule: d.routerRule });
      continue;
    }
    const a = d.adopt;
    const vmFacts = 'existing' in a.vm ? a.vm.existing : { name: a.vm.create.name, internalIp: a.vm.create.internalIp };
    let portRuleId: string | null = null;
    if (write) portRuleId = adopt(em, config.routerName, a, created).id;
    intents.push({ ruleNumber: a.ruleNumber, desired: expectedRouterRule(a, vmFacts, config.wanInterface) });
    adopted.push({ ruleNumber: a.ruleNumber, vmName: vmFacts.name, vmCreated: 'create' in a.vm, portRuleId, routerRule: d.routerRule });
  }
  if (write) await em.flush();
  const commands = planCommands(intents, byRuleNumber(routerRules), syntax);
  return { intents, adopted, skipped, commands };
}

function adopt(em: EntityManager, router: string, a: Adoption, created: Map<string, Vm>): PortRule {
  let vm: Vm;
  if ('existing' in a.vm) {
    vm = em.getReference(Vm, a.vm.existing.id);
  } else {
    const ip = a.vm.create.internalIp;
    vm = created.get(ip) ?? em.create(Vm, { name: a.vm.create.name, router: em.getReference(Router, router), internalIp: ip });
    created.set(ip, vm);
  }
  const rule = em.create(PortRule, {
    vm,
    router: em.getReference(Router, router),
    ruleNumber: a.ruleNumber,
    protocol: a.protocol,
    externalPort: a.externalPort,
    internalPort: a.internalPort,
    portCount: a.portCount,
    sourceAddress: a.sourceAddress,
    description: a.description,
    enabled: a.enabled,
  });
  rule.claimPorts();
  return rule;
}
