import type { EntityManager } from '@mikro-orm/postgresql';
import { Arg, Authorized, Ctx, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Topic } from '../../changes/events.js';
import { PortRule, Role } from '../../domain/entities/index.js';
import type { SyncReportData } from '../../drift/drift-diff.js';
import { reconcile } from '../../drift/reconcile.js';
import { ReconcileMode } from '../../drift/reconcile-plan.js';
import { importRouterRules } from '../../drift/router-import.js';
import { takeSyncReport } from '../../drift/sync-report.js';
import type { GraphQLContext } from '../context.js';
import { FirewallVerdict, ImportResult, ReconcileResult, SyncReport } from '../drift-types.js';
import { ROUTER_SCAN_COST } from '../../security/query-limits.js';
import { ROUTER_ARG } from './router-resolver.js';
import { routerNameArg } from '../../fleet/routers.js';

@Resolver()
export class DriftResolver {
  @Authorized(Role.VIEWER)
  @Query(() => SyncReport, { complexity: ROUTER_SCAN_COST, description: 'The database compared with one read of the router, taken while no change is in flight.' })
  async syncReport(@Ctx() { app, em }: GraphQLContext, @Arg('router', () => String, { nullable: true, description: ROUTER_ARG }) router: string | null): Promise<SyncReport> {
    return withPortRules(em, await takeSyncReport((await driven(app, router)).drift));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ReconcileResult, { complexity: ROUTER_SCAN_COST,
    description: 'Repairs drift inside NAT_RULE_RANGE in one router commit (commit-confirm, rollback events); rules outside the range are never touched.',
  })
  async reconcile(
    @Ctx() { app, em }: GraphQLContext,
    @Arg('mode', () => ReconcileMode, { nullable: true, defaultValue: ReconcileMode.REPLACED, description: 'How far to go; see ReconcileMode.' }) mode: ReconcileMode | null,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: 'Return the exact commands and change nothing.' }) dryRun: boolean | null,
    @Arg('router', () => String, { nullable: true, description: ROUTER_ARG }) router: string | null,
  ): Promise<ReconcileResult> {
    const outcome = await reconcile((await driven(app, router)).drift, mode ?? ReconcileMode.REPLACED, dryRun ?? false);
    return { ...outcome, report: await withPortRules(em, outcome.report) };
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ImportResult, { complexity: ROUTER_SCAN_COST,
    description:
      'Adopts UNMANAGED_ON_ROUTER rules whose translation address is a VM\'s internal IP as port rules, keeping number, ports, protocol, source address, description and state. Nothing is deleted.',
  })
  async importRouterRules(
    @Ctx() { app, em }: GraphQLContext,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: 'List what would be adopted and skipped, and change nothing.' }) dryRun: boolean | null,
    @Arg('createVms', () => Boolean, { nullable: true, defaultValue: false, description: 'Create a VM (named like imported-192-168-64-150) for a translation address no VM has.' })
    createVms: boolean | null,
    @Arg('router', () => String, { nullable: true, description: ROUTER_ARG }) router: string | null,
  ): Promise<ImportResult> {
    const outcome = await importRouterRules((await driven(app, router)).drift, { dryRun: dryRun ?? false, createVms: createVms ?? false });
    const rules = await portRulesById(em, outcome.adopted.map((a) => a.portRuleId));
    return {
      ...outcome,
      adopted: outcome.adopted.map((a) => ({ ...a, portRule: a.portRuleId ? rules.get(a.portRuleId) ?? null : null })),
      report: await withPortRules(em, outcome.report),
    };
  }

  @Authorized(Role.VIEWER)
  @Subscription(() => SyncReport, {
    topics: Topic.DRIFT_DETECTED,
    filter: ({ payload, args }: { payload: SyncReportData; args: { router?: string | null } }) => args.router == null || payload.router === args.router,
    description:
      'Each report of the background sync job that is not in sync (every SYNC_INTERVAL_SECONDS while drift lasts, per router; `router` says which), with every item, on every replica. Nested fields are read when the event is delivered.',
  })
  async driftDetected(
    @Root() report: SyncReportData,
    @Ctx() { em }: GraphQLContext,
    @Arg('router', () => String, { nullable: true, description: 'Only this router\'s reports; omitted: every router\'s.' }) _router: string | null,
  ): Promise<SyncReport> {
    // `em` is this event's own unit of work (ws-execution.ts). A payload may have crossed
    // processes as JSON: the date arrives as a string.
    return withPortRules(em, { ...report, checkedAt: new Date(report.checkedAt) });
  }
}

const driven = (app: GraphQLContext['app'], router: string | null) => app.fleet.unit(routerNameArg('router', router) ?? app.fleet.home.name);

async function portRulesById(em: EntityManager, ids: (string | null)[]): Promise<Map<string, PortRule>> {
  const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
  if (wanted.length === 0) return new Map();
  const rows = await em.find(PortRule, { id: { $in: wanted } });
  return new Map(rows.map((r) => [r.id, r]));
}

/** The report with each item's port rule loaded (one query for all of them). */
async function withPortRules(em: EntityManager, report: SyncReportData): Promise<SyncReport> {
  const fw = report.firewall ?? null;
  const rules = await portRulesById(em, [...report.items.map((i) => i.portRuleId), ...(fw?.findings ?? []).map((f) => f.portRuleId)]);
  return {
    router: report.router ?? '',
    checkedAt: report.checkedAt,
    inSync: report.inSync,
    pendingUndos: report.pendingUndos ?? 0,
    unsavedSince: report.unsavedSince ? new Date(report.unsavedSince) : null,
    items: report.items.map((i) => ({
      kind: i.kind,
      ruleNumber: i.ruleNumber,
      portRule: i.portRuleId ? rules.get(i.portRuleId) ?? null : null,
      routerRule: i.routerRule,
      fields: i.fields,
    })),
    hairpin: report.hairpin ?? null,
    firewall: fw && {
      ...fw,
      managed: fw.managed ?? null,
      findings: fw.findings.map((f) => ({ ...f, verdict: f.verdict as FirewallVerdict, portRule: rules.get(f.portRuleId) ?? null })),
    },
  };
}
