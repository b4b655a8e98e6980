// Pure planning: what the router must receive so the touched rules end up as intended.
import { commandsToConfigJson } from '../vyos/config-json.js';
import { NAT_DESTINATION_PATH, diffRule, parseNatDestination, renderDelete, renderRule } from '../vyos/nat-rule.js';
import type { NatSyntax, RouterCommand, RouterRule } from '../vyos/types.js';

/** What one rule number must look like after the change: a rule, or absent (null). */
export interface RuleIntent {
  ruleNumber: number;
  desired: RouterRule | null;
}

/** The last intent per rule number wins (a batch may touch a rule twice). */
export function mergeIntents(intents: readonly RuleIntent[]): RuleIntent[] {
  const byNumber = new Map<number, RuleIntent>();
  for (const i of intents) byNumber.set(i.ruleNumber, i);
  return [...byNumber.values()].sort((a, b) => a.ruleNumber - b.ruleNumber);
}

/** The rules as they would be once the intents applied (pure). */
export function withIntents(rules: ReadonlyMap<number, RouterRule>, intents: readonly RuleIntent[]): Map<number, RouterRule> {
  const after = new Map(rules);
  for (const { ruleNumber, desired } of mergeIntents(intents)) {
    if (desired) after.set(ruleNumber, desired);
    else after.delete(ruleNumber);
  }
  return after;
}

/**
 * Commands that turn `before` into the intended state. A rule that already matches is left
 * alone; a rule that differs is deleted and set again so stale leaves (an old source address,
 * a `disable`) cannot survive.
 */
export function planCommands(intents: readonly RuleIntent[], before: ReadonlyMap<number, RouterRule>, syntax: NatSyntax): RouterCommand[] {
  const commands: RouterCommand[] = [];
  for (const { ruleNumber, desired } of mergeIntents(intents)) {
    const current = before.get(ruleNumber);
    if (desired === null) {
      if (current) commands.push(renderDelete(ruleNumber));
      continue;
    }
    if (current && diffRule(desired, current).length === 0) continue;
    if (current) commands.push(renderDelete(ruleNumber));
    commands.push(...renderRule(desired, { syntax }));
  }
  return commands;
}

/** Rule numbers whose state on the router differs from the intent, with a reason each. */
export function verifyIntents(intents: readonly RuleIntent[], after: ReadonlyMap<number, RouterRule>): string[] {
  const problems: string[] = [];
  for (const { ruleNumber, desired } of mergeIntents(intents)) {
    const actual = after.get(ruleNumber);
    if (desired === null) {
      if (actual) problems.push(`rule ${ruleNumber} is still on the router`);
    } else if (!actual) {
      problems.push(`rule ${ruleNumber} is missing on the router`);
    } else {
      for (const d of diffRule(desired, actual)) {
        problems.push(`rule ${ruleNumber} ${d.field}: expected ${d.expected ?? 'none'}, got ${d.actual ?? 'none'}`);
      }
    }
  }
  return problems;
}

/** True when every touched rule is exactly as it was before (the batch did not apply). */
export function unchangedSince(intents: readonly RuleIntent[], before: ReadonlyMap<number, RouterRule>, now: ReadonlyMap<number, RouterRule>): boolean {
  return mergeIntents(intents).every(({ ruleNumber }) => {
    const a = before.get(ruleNumber);
    const b = now.get(ruleNumber);
    if (!a || !b) return !a && !b;
    return diffRule(a, b).length === 0;
  });
}

export function byRuleNumber(rules: readonly RouterRule[]): Map<number, RouterRule> {
  return new Map(rules.map((r) => [r.ruleNumber, r]));
}

/** The rules a batch set, as they would be on the router had it applied (pure). */
export function stateAfter(commands: readonly RouterCommand[]): Map<number, RouterRule> {
  return byRuleNumber(parseNatDestination(commandsToConfigJson([...commands], NAT_DESTINATION_PATH)));
}
