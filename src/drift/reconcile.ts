// reconcile(mode, dryRun): repair drift through the coordinator. A dry run goes through the same
// change set and the same runner, which stops after planning: its commands are the plan, verbatim.
import { byRuleNumber } from '../changes/change-plan.js';
import type { ChangeContext, ChangeSet } from '../changes/change-set.js';
import { expectedRules, settleNeedsRepair } from '../changes/change-store.js';
import type { RouterCommand } from '../vyos/types.js';
import { DriftKind, type SyncReportData } from './drift-diff.js';
import { planReconcile, ReconcileMode } from './reconcile-plan.js';
import { compare, takeSyncReport, type DriftDeps } from './sync-report.js';

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

interface Planned {
  report: SyncReportData;
  commands: RouterCommand[];
}

/** The repair as a change set; isolated, so the batch's commands are this repair's alone. */
export function reconcileChange(mode: ReconcileMode, dryRun: boolean): ChangeSet<Planned> {
  return {
    operation: 'reconcile',
    isolated: true,
    wholePicture: true,
    dryRun,
    // OVERRIDDEN deletes rules: it does not go ahead without a snapshot (docs/operations.md).
    critical: mode === ReconcileMode.OVERRIDDEN,
    prepare: (ctx) => prepareReconcile(ctx, mode),
    complete: (planned, batch) => ({ ...planned, commands: batch.commands }),
  };
}

export async function reconcile(deps: DriftDeps, mode: ReconcileMode, dryRun: boolean): Promise<ReconcileOutcome> {
  const planned = await deps.coordinator.submit(reconcileChange(mode, dryRun));
  const report = dryRun ? planned.report : await takeSyncReport(deps);
  return { mode, dryRun, commands: planned.commands, applied: !dryRun && planned.commands.length > 0, report };
}

/**
 * Under the router lock with the router's rules read at the start of the batch: diff, plan, and
 * clear `needsRepair` on every rule that will match the router afterwards.
 */
async function prepareReconcile(ctx: ChangeContext, mode: ReconcileMode) {
  const expected = await expectedRules(ctx.em, ctx.config);
  const report = compare(expected, [...ctx.routerRules.values()], ctx.config);
  const intents = planReconcile(report.items, byRuleNumber(expected.map((e) => e.expected)), mode, ctx.config.natRuleRange, ctx.config.hairpin);
  const repaired = new Set(intents.map((i) => i.ruleNumber));
  const stillWrong = report.items.filter((i) => (i.kind === DriftKind.MISSING_ON_ROUTER || i.kind === DriftKind.DRIFTED) && !repaired.has(i.ruleNumber)).map((i) => i.ruleNumber);
  await settleNeedsRepair(ctx.em, ctx.config.routerName, stillWrong);
  return { intents, result: { report, commands: [] } };
}

export { ReconcileMode };
