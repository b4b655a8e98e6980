// syncReport: one read of the router and one of the database, taken together under the router
// lock so a change in flight (router committed, database not yet) is never reported as drift.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { toClientError } from '../domain/errors.js';
import { expectedRules, unsavedState, unsettledCount } from '../changes/change-store.js';
import type { Coordinator } from '../changes/coordinator.js';
import type { NatSyntax, RouterApi, RouterRule } from '../vyos/types.js';
import { firewallVerdict, readFirewall, type FirewallWatch } from './firewall-check.js';
import { masqueradeRule } from '../domain/hairpin.js';
import { configuredAcceptRule } from '../vyos/managed-accept.js';
import { ownedNumber, ownedStanding, readOwned, type OwnedRule, type OwnedState } from '../vyos/owned-rule.js';
import { diffDrift, syncReport, type ExpectedRule, type SyncReportData } from './drift-diff.js';
import type { ExpectedRulesCache } from './expected-cache.js';

/** What the drift operations need from the composition root. */
export interface DriftDeps {
  config: Config;
  coordinator: Coordinator;
  router: RouterApi;
  /** keeps each report's firewall check for /health and /metrics */
  firewall?: FirewallWatch;
  /** keeps the expected rules between reports while the database has not changed (none: read each time) */
  expected?: ExpectedRulesCache;
}

export interface DriftSnapshot {
  expected: readonly ExpectedRule[];
  routerRules: RouterRule[];
  report: SyncReportData;
}

export function compare(expected: readonly ExpectedRule[], routerRules: RouterRule[], config: Config, state: { pendingUndos: number; unsavedSince: Date | null } = { pendingUndos: 0, unsavedSince: null }): SyncReportData {
  return { router: config.routerName, ...syncReport(diffDrift(expected, routerRules, config.natRuleRange, config.wanInterface), new Date(), state.pendingUndos, state.unsavedSince) };
}

/** VYOS_HAIRPIN's masquerade rule as the router holds it (null when off). */
async function readMasquerade(deps: DriftDeps): Promise<{ rule: OwnedRule; held: OwnedState } | null> {
  const s = deps.config.hairpin;
  if (!s) return null;
  const rule = masqueradeRule(s, deps.config.lanPool, (await deps.router.capabilities()).syntax);
  return { rule, held: readOwned(await deps.router.showConfig(rule.path), rule) };
}

/** Both reads and the diff, on `em` (a consistent read: no batch in flight). */
export async function snapshot(em: EntityManager, deps: DriftDeps): Promise<DriftSnapshot> {
  const database = async () => ({
    expected: deps.expected ? await deps.expected.read(em, deps.config) : await expectedRules(em, deps.config),
    pendingUndos: await unsettledCount(em, deps.config.routerName),
    unsavedSince: (await unsavedState(em, deps.config.routerName))?.since ?? null,
  });
  // Under the router lock, so the picture batches allocate from takes this whole read too.
  const [{ expected, ...state }, routerRules, fw, masquerade] = await Promise.all([
    database(),
    deps.coordinator.picture.readWhole(deps.router),
    readFirewall(deps.router, deps.config.vyosFirewall, deps.config.wanInterface),
    readMasquerade(deps),
  ]);
  const rules = [...routerRules.values()];
  const report = compare(expected, rules, deps.config, state);
  const { config } = deps;
  report.firewall = firewallVerdict(fw, expected, config.wanInterface, config.vyosFirewall === 'manage' ? configuredAcceptRule(config) : undefined);
  deps.firewall?.note(report.firewall, report.checkedAt);
  // the masquerade rule is wanted while an enabled rule has a twin
  if (masquerade) report.hairpin = { ruleNumber: ownedNumber(masquerade.rule), state: ownedStanding(masquerade.held, expected.some((e) => e.twin && !e.expected.disabled)) };
  return { expected, routerRules: rules, report };
}

/**
 * Runs `fn` under the router lock with no batch in flight; a router failure becomes
 * ROUTER_UNAVAILABLE / ROUTER_REJECTED like any other operation's.
 */
export async function underLock<T>(deps: DriftDeps, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await deps.coordinator.consistentRead(fn);
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

export async function takeSyncReport(deps: DriftDeps): Promise<SyncReportData> {
  return (await underLock(deps, (em) => snapshot(em, deps))).report;
}
