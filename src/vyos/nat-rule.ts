// NAT destination rules <-> VyOS set commands and showConfig JSON. Pure: data in, data out.
import type { FieldDrift, NatSyntax, RouterCommand, RouterRule } from './types';

/** The config path every rule of ours lives under. */
export const NAT_DESTINATION_PATH: readonly string[] = ['nat', 'destination'];
const RULE_PATH = [...NAT_DESTINATION_PATH, 'rule'];

function rulePath(ruleNumber: number): string[] {
  // vyos-api.md §1: path elements must be strings (StrictStr), rule numbers included.
  return [...RULE_PATH, String(ruleNumber)];
}

/**
 * The set commands for one rule, in the order of design.md. Optional fields are rendered only when
 * present and non-empty: an empty value would be sent as "no value", which the router refuses for
 * a value-taking node (vyos-api.md §1, "requires a value").
 */
export function renderRule(rule: RouterRule, opts: { syntax: NatSyntax }): RouterCommand[] {
  const base = rulePath(rule.ruleNumber);
  const commands: RouterCommand[] = [];
  const set = (value: string | undefined, ...nodes: string[]): void => {
    if (value !== undefined && value !== '') commands.push({ op: 'set', path: [...base, ...nodes, value] });
  };
  set(rule.description, 'description');
  set(rule.protocol, 'protocol');
  set(rule.externalPort, 'destination', 'port');
  set(rule.destinationAddress, 'destination', 'address');
  // vyos-api.md §5: 1.3 has a leaf `inbound-interface eth0`, 1.4+ a node `inbound-interface name eth0`.
  if (opts.syntax === '1.3') set(rule.inboundInterface, 'inbound-interface');
  else set(rule.inboundInterface, 'inbound-interface', 'name');
  set(rule.translationAddress, 'translation', 'address');
  set(rule.internalPort, 'translation', 'port');
  set(rule.sourceAddress, 'source', 'address');
  if (rule.disabled) commands.push({ op: 'set', path: [...base, 'disable'] });
  return commands;
}

/** Deleting the rule's tag value removes the whole rule (vyos-api.md §1, delete semantics). */
export function renderDelete(ruleNumber: number): RouterCommand {
  return { op: 'delete', path: rulePath(ruleNumber) };
}

/**
 * Rewrite an existing rule: delete, then set. Both run in one session and one commit, so the rule
 * never disappears on the router, and leaves we no longer render (an old source address, a
 * `disable`) vanish instead of lingering beside the new ones.
 */
export function renderReplace(rule: RouterRule, opts: { syntax: NatSyntax }): RouterCommand[] {
  return [renderDelete(rule.ruleNumber), ...renderRule(rule, opts)];
}

// ---------------------------------------------------------------------------------------------
// Parsing

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A leaf's value as one string. vyos-api.md §3: every value is a JSON string, one value is a plain
 * string, several are a list. A list is joined with ',' so that a multi-value leaf still compares
 * (and shows) as one field; ports are already comma lists in one value, so nothing is lost for
 * the fields we model. A valueless `{}` on a value leaf means "no value" (undefined).
 */
function leafValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v); // tolerated, never sent
  if (Array.isArray(v)) {
    const parts = v.map(leafValue).filter((p): p is string => p !== undefined);
    return parts.length > 0 ? parts.join(',') : undefined;
  }
  return undefined;
}

/** `node[name]` when node is an object (no rest arguments: this runs eight times per rule of a whole read). */
function child(node: unknown, name: string): unknown {
  return isObject(node) ? node[name] : undefined;
}

/**
 * 1.3: `"inbound-interface": "eth0"`; 1.4+: `{"name": "eth0"}`. An interface `group` (1.4+) is
 * not something we render, so it is left out (it then shows as drift on our rules).
 */
function inboundInterface(v: unknown): string | undefined {
  if (isObject(v)) return leafValue(v['name']);
  return leafValue(v);
}

function parseRule(ruleNumber: number, node: unknown): RouterRule {
  const rule: RouterRule = { ruleNumber, disabled: isObject(node) && 'disable' in node };
  if (!isObject(node)) return rule;
  const destination = node['destination'];
  const translation = node['translation'];
  // Assign only present fields, so a parse of what we rendered deep-equals the rendered rule.
  let v: string | undefined;
  if ((v = leafValue(node['description'])) !== undefined) rule.description = v;
  if ((v = leafValue(node['protocol'])) !== undefined) rule.protocol = v;
  if ((v = leafValue(child(destination, 'port'))) !== undefined) rule.externalPort = v;
  if ((v = leafValue(child(destination, 'address'))) !== undefined) rule.destinationAddress = v;
  if ((v = inboundInterface(node['inbound-interface'])) !== undefined) rule.inboundInterface = v;
  if ((v = leafValue(child(translation, 'address'))) !== undefined) rule.translationAddress = v;
  if ((v = leafValue(child(translation, 'port'))) !== undefined) rule.internalPort = v;
  if ((v = leafValue(child(node['source'], 'address'))) !== undefined) rule.sourceAddress = v;
  return rule;
}

/**
 * The rules in the `data` of showConfig(['nat','destination']): the node's children,
 * `{"rule": {"100": {...}}}`, or null when the path is empty (vyos-api.md §3). Unknown nodes
 * (log, exclude, groups, load-balance, ...) are ignored; the result is sorted by rule number.
 */
export function parseNatDestination(showConfigJson: unknown): RouterRule[] {
  if (showConfigJson === null || showConfigJson === undefined) return [];
  if (!isObject(showConfigJson)) {
    throw new TypeError(`nat destination: expected an object, got ${JSON.stringify(showConfigJson)}`);
  }
  const rules = showConfigJson['rule'];
  if (!isObject(rules)) return [];
  const out: RouterRule[] = [];
  for (const key of Object.keys(rules)) if (/^[0-9]+$/.test(key)) out.push(parseRule(Number(key), rules[key]));
  return out.sort((a, b) => a.ruleNumber - b.ruleNumber);
}

// ---------------------------------------------------------------------------------------------
// Diffing

const DIFF_FIELDS = [
  'protocol',
  'externalPort',
  'destinationAddress',
  'internalPort',
  'translationAddress',
  'sourceAddress',
  'description',
] as const;

/** Whether the two rules agree in every field diffRule reports (no list built: a whole read compares every rule). */
export function sameRule(a: RouterRule, b: RouterRule): boolean {
  return (
    a.disabled === b.disabled &&
    a.protocol === b.protocol &&
    a.externalPort === b.externalPort &&
    a.destinationAddress === b.destinationAddress &&
    a.internalPort === b.internalPort &&
    a.translationAddress === b.translationAddress &&
    a.sourceAddress === b.sourceAddress &&
    a.description === b.description &&
    a.inboundInterface === b.inboundInterface
  );
}

/** Field-level differences, expected (ours) vs actual (the router's); absent fields are null. */
export function diffRule(expected: RouterRule, actual: RouterRule): FieldDrift[] {
  if (sameRule(expected, actual)) return [];
  const drift: FieldDrift[] = [];
  for (const field of DIFF_FIELDS) {
    const e = expected[field] ?? null;
    const a = actual[field] ?? null;
    if (e !== a) drift.push({ field, expected: e, actual: a });
  }
  if (expected.disabled !== actual.disabled) {
    drift.push({ field: 'enabled', expected: String(!expected.disabled), actual: String(!actual.disabled) });
  }
  const ei = expected.inboundInterface ?? null;
  const ai = actual.inboundInterface ?? null;
  if (ei !== ai) drift.push({ field: 'inboundInterface', expected: ei, actual: ai });
  return drift;
}

// ---------------------------------------------------------------------------------------------
// Undo

/** The rule number a command addresses, when it addresses one NAT destination rule (or below). */
function ruleNumberOf(command: RouterCommand): number | undefined {
  const p = command.path;
  if (p.length < 4 || !RULE_PATH.every((el, i) => p[i] === el) || !/^[0-9]+$/.test(p[3])) return undefined;
  return Number(p[3]);
}

/** A delete of `nat`, `nat destination` or `nat destination rule`: it removes every rule. */
function deletesAllRules(command: RouterCommand): boolean {
  const p = command.path;
  return command.op === 'delete' && p.length >= 1 && p.length <= 3 && p.every((el, i) => el === RULE_PATH[i]);
}

/** The NAT destination rule numbers a batch sets or deletes (comments change nothing), ascending. */
export function touchedRuleNumbers(commands: RouterCommand[]): number[] {
  const numbers = new Set<number>();
  for (const c of commands) {
    if (c.op === 'comment') continue;
    const n = ruleNumberOf(c);
    if (n !== undefined) numbers.add(n);
  }
  return [...numbers].sort((a, b) => a - b);
}

/**
 * Commands that undo `commands`, given the rules as they were before (`before`, e.g. parsed from a
 * read just before the batch). For every rule the batch touched: delete it, and re-render it when
 * it existed before. Rules not touched are not mentioned.
 *
 * The delete is left out when the batch itself left the rule absent (the batch deleted it, or only
 * deleted under a rule that never existed): with `strict` on, deleting a missing path is a 400 that
 * would discard the whole undo batch (vyos-api.md §1, strict mode). A delete of `nat destination`
 * or above counts as touching every rule of `before`.
 */
export function inverse(
  commands: RouterCommand[],
  before: RouterRule[],
  opts: { syntax: NatSyntax },
): RouterCommand[] {
  const previous = new Map(before.map((r) => [r.ruleNumber, r]));
  // After the batch: true = present, false = absent; unset = as before (only sub-paths deleted).
  const after = new Map<number, boolean>();
  for (const c of commands) {
    if (c.op === 'comment') continue;
    if (deletesAllRules(c)) {
      for (const n of new Set([...previous.keys(), ...after.keys()])) after.set(n, false);
      continue;
    }
    const n = ruleNumberOf(c);
    if (n === undefined) continue;
    if (c.op === 'set') after.set(n, true);
    else if (c.path.length === 4) after.set(n, false);
    else if (!after.has(n)) after.set(n, previous.has(n)); // sub-path delete: touched, unchanged
  }
  const undo: RouterCommand[] = [];
  for (const n of [...after.keys()].sort((a, b) => a - b)) {
    const old = previous.get(n);
    if (after.get(n)) undo.push(renderDelete(n));
    if (old) undo.push(...renderRule(old, opts));
  }
  return undo;
}
