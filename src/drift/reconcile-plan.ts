// What a reconcile changes, per mode (design.md "Drift"). Pure: drift findings in, rule intents out.
// The modes mean what Ansible's network resource-module states mean: merged, replaced, overridden.
import type { HairpinSettings, NumberRange } from '../config.js';
import { isTwinNumber } from '../domain/hairpin.js';
import type { RuleIntent } from '../changes/change-plan.js';
import type { RouterRule } from '../vyos/types.js';
import { DriftKind, inRange, type DriftFinding } from './drift-diff.js';

/** Registered as the GraphQL enum `ReconcileMode` in src/graphql/drift-types.ts. */
export enum ReconcileMode {
  MERGED = 'MERGED',
  REPLACED = 'REPLACED',
  OVERRIDDEN = 'OVERRIDDEN',
}

/** The drift kinds each mode repairs; SHADOWED is never one of them (the foreign rule is not ours). */
const REPAIRS: Record<ReconcileMode, ReadonlySet<DriftKind>> = {
  MERGED: new Set([DriftKind.MISSING_ON_ROUTER]),
  REPLACED: new Set([DriftKind.MISSING_ON_ROUTER, DriftKind.DRIFTED]),
  OVERRIDDEN: new Set([DriftKind.MISSING_ON_ROUTER, DriftKind.DRIFTED, DriftKind.UNMANAGED_ON_ROUTER]),
};

/**
 * The intents that repair `items` in `mode`: missing and drifted rules become what the database
 * says (`expected`, by rule number), unmanaged ones are deleted. A rule number outside `range` is
 * never planned, whatever the finding (a database row left outside a narrowed range included).
 */
export function planReconcile(
  items: readonly DriftFinding[],
  expected: ReadonlyMap<number, RouterRule>,
  mode: ReconcileMode,
  range: NumberRange,
  hairpin: HairpinSettings | null = null,
): RuleIntent[] {
  const repairs = REPAIRS[mode];
  const intents = new Map<number, RuleIntent>();
  for (const item of items) {
    if (!repairs.has(item.kind)) continue;
    // A hairpin twin (VYOS_HAIRPIN) is repaired through its rule: the runner plans each rule's twin beside it.
    const base = twinBase(item, range, hairpin);
    if (base !== null) {
      const desired = expected.get(base);
      if (desired) intents.set(base, { ruleNumber: base, desired });
      continue;
    }
    if (!inRange(item.ruleNumber, range)) continue;
    if (item.kind === DriftKind.UNMANAGED_ON_ROUTER) {
      intents.set(item.ruleNumber, { ruleNumber: item.ruleNumber, desired: null });
      continue;
    }
    const desired = expected.get(item.ruleNumber);
    if (desired) intents.set(item.ruleNumber, { ruleNumber: item.ruleNumber, desired });
  }
  return [...intents.values()].sort((a, b) => a.ruleNumber - b.ruleNumber);
}

/** Whether a mode would change anything for these findings (the background job's cheap test). */
export function needsRepair(items: readonly DriftFinding[], mode: ReconcileMode, range: NumberRange, hairpin: HairpinSettings | null = null): boolean {
  return items.some((i) => REPAIRS[mode].has(i.kind) && (inRange(i.ruleNumber, range) || twinBase(i, range, hairpin) !== null));
}

/** The rule whose twin a MISSING or DRIFTED finding is about; null for any other finding. */
function twinBase(item: DriftFinding, range: NumberRange, hairpin: HairpinSettings | null): number | null {
  if (!hairpin || item.kind === DriftKind.UNMANAGED_ON_ROUTER || item.kind === DriftKind.SHADOWED || !isTwinNumber(item.ruleNumber, range, hairpin)) return null;
  return item.ruleNumber - hairpin.ruleOffset;
}
