// Router rules this server owns beside its NAT destination rules: VYOS_FIREWALL=manage's accept
// rule and hairpin's masquerade rule (docs/operations.md "Making the port reachable"). Each is one
// tag value under a path, marked ours by its description; it is written, read back and undone in
// the same commit as the NAT rules (changes/transaction.ts). Pure: render, read, plan, restore.
import { commandsToConfigJson } from './config-json.js';
import type { RouterCommand } from './types.js';

/** One owned rule as it should be. */
export interface OwnedRule {
  /** the path to its tag value, e.g. `firewall ipv4 forward filter rule 9000` */
  path: string[];
  /** its leaves below `path`, each ending in its value */
  leaves: string[][];
  /** marks it as ours: a rule at `path` without it is someone else's, never touched */
  description: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the router holds at an owned rule's path. */
export type OwnedState = { kind: 'absent' } | { kind: 'ours'; node: Json; exact: boolean } | { kind: 'foreign' };

/** The rule number: the tag value `path` ends in. */
export const ownedNumber = (rule: OwnedRule): number => Number(rule.path[rule.path.length - 1]);

export function renderOwned(rule: OwnedRule): RouterCommand[] {
  return [...rule.leaves, ['description', rule.description]].map((leaf) => ({ op: 'set', path: [...rule.path, ...leaf] }));
}

export function deleteOwned(path: readonly string[]): RouterCommand {
  return { op: 'delete', path: [...path] };
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
}

/**
 * The node as `showConfig <path>` returns it (its children; null when absent), against `rule`
 * (what it should be) or, when nothing should be there, just the description that marks ours.
 */
export function readOwned(node: unknown, want: OwnedRule | { description: string }): OwnedState {
  if (!isObject(node) || Object.keys(node).length === 0) return { kind: 'absent' };
  if (node.description !== want.description) return { kind: 'foreign' };
  const exact = 'path' in want && sameJson(node, commandsToConfigJson(renderOwned(want), want.path, { valueless: new Set(), tagNodes: new Set() }));
  return { kind: 'ours', node, exact };
}

/** The set commands that rebuild a node read from the router (for an undo). */
export function nodeCommands(path: readonly string[], node: Json): RouterCommand[] {
  const out: RouterCommand[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string') out.push({ op: 'set', path: [...path, key, value] });
    else if (Array.isArray(value)) for (const v of value) out.push({ op: 'set', path: [...path, key, String(v)] });
    else if (isObject(value) && Object.keys(value).length === 0) out.push({ op: 'set', path: [...path, key] });
    else if (isObject(value)) out.push(...nodeCommands([...path, key], value));
  }
  return out;
}

/**
 * The commands that bring the path to `desired` (null: the rule goes), and their inverse (as if
 * they applied). A foreign rule is never written: `refused` says so.
 */
export function planOwned(desired: OwnedRule | null, path: readonly string[], before: OwnedState): { commands: RouterCommand[]; inverse: RouterCommand[]; refused: boolean } {
  if (before.kind === 'foreign') return { commands: [], inverse: [], refused: true };
  const restore = before.kind === 'ours' ? nodeCommands(path, before.node) : [];
  if (desired === null) return before.kind === 'absent' ? { commands: [], inverse: [], refused: false } : { commands: [deleteOwned(path)], inverse: restore, refused: false };
  if (before.kind === 'ours' && before.exact) return { commands: [], inverse: [], refused: false };
  const commands = [...(before.kind === 'ours' ? [deleteOwned(path)] : []), ...renderOwned(desired)];
  return { commands, inverse: [deleteOwned(path), ...restore], refused: false };
}

/** How an owned rule stands, for syncReport: IN_PLACE (as written while wanted, absent while not), MISSING, DRIFTED, FOREIGN. */
export type OwnedStanding = 'IN_PLACE' | 'MISSING' | 'DRIFTED' | 'FOREIGN';

export function ownedStanding(held: OwnedState, wanted: boolean): OwnedStanding {
  if (held.kind === 'foreign') return 'FOREIGN';
  if (held.kind === 'absent') return wanted ? 'MISSING' : 'IN_PLACE';
  return held.exact && wanted ? 'IN_PLACE' : 'DRIFTED';
}

/** Whether the router holds what it held before, judged from a fresh read. */
export function sameOwnedState(before: OwnedState, now: OwnedState): boolean {
  if (before.kind !== now.kind) return false;
  return before.kind !== 'ours' || now.kind !== 'ours' || sameJson(before.node, now.node);
}

/** The commands that put the path back as it was before a batch, from what it holds now. */
export function restoreOwned(before: OwnedState, now: OwnedState, path: readonly string[]): RouterCommand[] {
  if (before.kind === 'foreign' || sameOwnedState(before, now)) return [];
  const clear = now.kind === 'absent' ? [] : [deleteOwned(path)];
  return before.kind === 'ours' ? [...clear, ...nodeCommands(path, before.node)] : clear;
}
