// reconcile(mode, dryRun): repair drift through the coordinator, or show exactly what it would send.
import { planCommands, byRuleNumber } from '../changes/change-plan.js';
import type { ChangeContext } from '../changes/coordinator.js';
import type { NatSyntax, RouterCommand } from '../vyos/types.js';
import { DriftKind, type SyncReportData } from './drift-diff.js';
import { planReconcile, ReconcileMode } from './reconcile-plan.js';
import { compare, consistentSnapshot, loadExpectedRules, routerSyntax, takeSyncReport, type DriftDeps } from './sync-report.js';

export interface ReconcileOutcome {
  mode: ReconcileMode;
  dryRun: boolean;
  /** the router commands: to be sent (dry run) or sent */
  commands: RouterCommand[];
  /** true when a router commit was made */
  applied: boolean;
  /** dry run: the report the plan was made from; otherwise the report taken after the repair */
  report: SyncReportData;
}

export async function reconcile(deps: DriftDeps, mode: ReconcileMode, dryRun: boolean): Promise<ReconcileOutcome> {
  const syntax = await routerSyntax(deps);
  if (dryRun) {
    const snap = await consistentSnapshot(deps);
    const intents = planReconcile(snap.report.items, byRuleNumber(snap.expected.map((e) => e.expected)), mode, deps.config.natRuleRange);
    return { mode, dryRun, commands: planCommands(intents, byRuleNumber(snap.routerRules), syntax), applied: false, report: snap.report };
  }
  // OVERRIDDEN deletes rules: it does not go ahead without a snapshot (docs/operations.md).
  const commands = await deps.coordinator.submit({ operation: 'reconcile', critical: mode === ReconcileMode.OVERRIDDEN, prepare: (ctx) => prepareReconcile(ctx, mode, syntax) });
  return { mode, dryRun, commands, applied: commands.length > 0, report: await takeSyncReport(deps) };
}

/**
 * The change set's work, under the router lock with the router's rules read at the start of the
 * batch: diff, plan, and clear `needsRepair` on every rule that will match the router afterwards.
 */
async function prepareReconcile(ctx: ChangeContext, mode: ReconcileMode, syntax: NatSyntax) {
  const expected = await loadExpectedRules(ctx.em, ctx.config);
  const report = compare(expected, [...ctx.routerRules.values()], ctx.config);
  const intents = planReconcile(report.items, byRuleNumber(expected.map((e) => e.expected)), mode, ctx.config.natRuleRange);
  const repaired = new Set(intents.map((i) => i.ruleNumber));
  const stillWrong = report.items
    .filter((i) => (i.kind === DriftKind.MISSING_ON_ROUTER || i.kind === DriftKind.DRIFTED) && !repaired.has(i.ruleNumber))
    .map((i) => i.ruleNumber);
  await ctx.em.execute(
    `update port_rule set needs_repair = false where needs_repair${stillWrong.length > 0 ? ' and rule_number not in (?)' : ''}`,
    stillWrong.length > 0 ? [stillWrong] : [],
  );
  return { intents, result: planCommands(intents, ctx.routerRules, syntax) };
}

export { ReconcileMode };
