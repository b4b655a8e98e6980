// syncReport: one read of the router and one of the database, taken together under the router
// lock so a change in flight (router committed, database not yet) is never reported as drift.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { toClientError, type Coordinator } from '../changes/coordinator.js';
import { Protocol } from '../domain/entities/protocol.js';
import { expectedRouterRule } from '../domain/rule-mapping.js';
import { NAT_DESTINATION_PATH, parseNatDestination } from '../vyos/nat-rule.js';
import type { NatSyntax, RouterApi, RouterRule } from '../vyos/types.js';
import { diffDrift, syncReport, type ExpectedRule, type SyncReportData } from './drift-diff.js';

/** What the drift operations need from the composition root. */
export interface DriftDeps {
  config: Config;
  coordinator: Coordinator;
  router: RouterApi;
}

interface ExpectedRow {
  id: string;
  rule_number: number;
  protocol: Protocol;
  external_port: number;
  internal_port: number;
  source_address: string | null;
  description: string | null;
  enabled: boolean;
  vm_name: string;
  internal_ip: string;
}

/** Every port rule of the database as the router should hold it (one query, no entities). */
export async function loadExpectedRules(em: EntityManager, config: Config): Promise<ExpectedRule[]> {
  const rows: ExpectedRow[] = await em.execute(
    `select pr.id, pr.rule_number, pr.protocol, pr.external_port, pr.internal_port, pr.source_address,
            pr.description, pr.enabled, v.name as vm_name, v.internal_ip
       from port_rule pr join vm v on v.id = pr.vm_id
      order by pr.rule_number`,
  );
  return rows.map((r) => ({
    portRuleId: r.id,
    expected: expectedRouterRule(
      {
        ruleNumber: r.rule_number,
        protocol: r.protocol,
        externalPort: r.external_port,
        internalPort: r.internal_port,
        sourceAddress: r.source_address,
        description: r.description,
        enabled: r.enabled,
      },
      { name: r.vm_name, internalIp: r.internal_ip },
      config.wanInterface,
    ),
  }));
}

/** The router's NAT destination rules, from one showConfig call. */
export async function readRouterRules(router: RouterApi): Promise<RouterRule[]> {
  return parseNatDestination(await router.showConfig([...NAT_DESTINATION_PATH]));
}

export interface DriftSnapshot {
  expected: ExpectedRule[];
  routerRules: RouterRule[];
  report: SyncReportData;
}

export function compare(expected: ExpectedRule[], routerRules: RouterRule[], config: Config): SyncReportData {
  return syncReport(diffDrift(expected, routerRules, config.natRuleRange, config.wanInterface));
}

/** Both reads and the diff, run by `coordinator.exclusive` (no batch in flight). */
export async function snapshot(em: EntityManager, deps: DriftDeps): Promise<DriftSnapshot> {
  const [expected, routerRules] = await Promise.all([loadExpectedRules(em, deps.config), readRouterRules(deps.router)]);
  return { expected, routerRules, report: compare(expected, routerRules, deps.config) };
}

/**
 * Runs `fn` under the router lock with no batch in flight; a router failure becomes
 * ROUTER_UNAVAILABLE / ROUTER_REJECTED like any other operation's.
 */
export async function underLock<T>(deps: DriftDeps, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await deps.coordinator.exclusive(fn);
  } catch (e) {
    throw toClientError(e);
  }
}

/** The router's NAT syntax (cached by the client), with failures in the closed vocabulary. */
export async function routerSyntax(deps: DriftDeps): Promise<NatSyntax> {
  try {
    return (await deps.router.capabilities()).syntax;
  } catch (e) {
    throw toClientError(e);
  }
}

export function consistentSnapshot(deps: DriftDeps): Promise<DriftSnapshot> {
  return underLock(deps, (em) => snapshot(em, deps));
}

export async function takeSyncReport(deps: DriftDeps): Promise<SyncReportData> {
  return (await consistentSnapshot(deps)).report;
}
