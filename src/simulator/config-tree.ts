// The configuration tree and the `set`/`delete`/`comment` semantics of vyatta-cfg (vyos-api.md §1 /configure).
// Exported functions are pure: they take a tree and return a new one; mutation stays on private copies.

import type { RouterCommand } from '../vyos/types';
import { resolvePath, type NodeKind, type ResolvedPath, type SchemaNode } from './schema';
import { forbiddenCharacter } from './value-validators';
import * as msg from './router-messages';

export interface ConfigNode {
  kind: NodeKind;
  /** insertion-ordered; a tag node's keys are its values, each an entry of kind 'node' */
  children: Map<string, ConfigNode>;
  /** a leaf's values: one for a single-value leaf, in set order for a multi-value leaf */
  values?: string[];
  comment?: string;
}

export interface TreeOptions {
  /** strict mode: deleting a missing path is an error instead of "Nothing to delete" */
  strict: boolean;
}

export type TreeResult = { ok: true; tree: ConfigNode } | { ok: false; error: string; index: number };

export function emptyTree(): ConfigNode {
  return { kind: 'node', children: new Map() };
}

export function cloneTree(tree: ConfigNode): ConfigNode {
  const copy: ConfigNode = { kind: tree.kind, children: new Map() };
  for (const [name, child] of tree.children) copy.children.set(name, cloneTree(child));
  if (tree.values) copy.values = [...tree.values];
  if (tree.comment !== undefined) copy.comment = tree.comment;
  return copy;
}

export function findNode(tree: ConfigNode, nodePath: string[]): ConfigNode | undefined {
  let node: ConfigNode | undefined = tree;
  for (const name of nodePath) {
    node = node.children.get(name);
    if (!node) return undefined;
  }
  return node;
}

/**
 * A session's private copy of a tree, copied on write: a node is copied (shallowly) the first time
 * a command changes it or something below it, and every other node is shared with the source tree.
 * Trees are never changed once built, so sharing is safe; a 30,000-rule config then costs one
 * path's copies per command instead of a deep copy per request.
 */
class Draft {
  private readonly owned = new Set<ConfigNode>();
  readonly root: ConfigNode;

  constructor(tree: ConfigNode) {
    this.root = this.copy(tree);
  }

  private copy(node: ConfigNode): ConfigNode {
    const copy: ConfigNode = { kind: node.kind, children: new Map(node.children) };
    if (node.values) copy.values = [...node.values];
    if (node.comment !== undefined) copy.comment = node.comment;
    this.owned.add(copy);
    return copy;
  }

  /** `parent`'s child `name`, made this draft's own (`parent` must be one already); undefined if absent. */
  child(parent: ConfigNode, name: string): ConfigNode | undefined {
    const child = parent.children.get(name);
    if (!child || this.owned.has(child)) return child;
    const copy = this.copy(child);
    parent.children.set(name, copy);
    return copy;
  }

  /** A new empty node under `parent` (which must be this draft's own). */
  add(parent: ConfigNode, name: string, kind: NodeKind): ConfigNode {
    const node: ConfigNode = { kind, children: new Map() };
    this.owned.add(node);
    parent.children.set(name, node);
    return node;
  }
}

/** Applies commands in order to a copy of `tree`; the first failure discards everything (one session). */
export function applyCommands(
  tree: ConfigNode,
  schema: SchemaNode,
  commands: RouterCommand[],
  options: TreeOptions,
): TreeResult {
  const draft = new Draft(tree);
  for (let index = 0; index < commands.length; index++) {
    const error = applyInPlace(draft, schema, commands[index], options);
    if (error !== null) return { ok: false, error, index };
  }
  return { ok: true, tree: draft.root };
}

function applyInPlace(draft: Draft, schema: SchemaNode, command: RouterCommand, options: TreeOptions): string | null {
  switch (command.op) {
    case 'set':
      return setPath(draft, schema, command.path);
    case 'delete':
      return deletePath(draft, schema, command.path, options);
    case 'comment':
      return commentPath(draft, schema, command.path);
    default:
      return `'${String((command as { op: unknown }).op)}' is not a valid operation`;
  }
}

/** Set-time checks of every value on the path: forbidden characters, tag whitespace, validators. */
function valueErrors(resolved: ResolvedPath): string[] | null {
  for (const { value, check } of resolved.tagValues) {
    const bad = forbiddenCharacter(value);
    if (bad) return [bad];
    if (/\s/.test(value)) return ['Tag node value name must not contain whitespace'];
    const lines = check?.(value);
    if (lines) return [...lines, 'Value validation failed'];
  }
  if (resolved.value !== undefined && resolved.schema.kind === 'leaf') {
    const bad = forbiddenCharacter(resolved.value);
    if (bad) return [bad];
    const lines = resolved.schema.check?.(resolved.value);
    if (lines) return [...lines, 'Value validation failed'];
  }
  return null;
}

function setPath(draft: Draft, schema: SchemaNode, path: string[]): string | null {
  const resolved = resolvePath(schema, path);
  if (!resolved) return msg.cliFailure([msg.pathNotValid(path)], 'Set');
  const errors = valueErrors(resolved);
  if (errors) return msg.cliFailure(errors, 'Set');
  if (resolved.at === 'tag' || (resolved.at === 'leaf' && resolved.value === undefined)) {
    return msg.cliFailure([msg.pathRequiresValue(path)], 'Set');
  }
  let node = draft.root;
  resolved.nodePath.forEach((name, i) => {
    node = draft.child(node, name) ?? draft.add(node, name, resolved.kinds[i]);
  });
  if (resolved.at === 'leaf' && resolved.value !== undefined && resolved.schema.kind === 'leaf') {
    // Setting an existing path succeeds ("already exists"); a single-value leaf is replaced, a multi-value one appended.
    if (!resolved.schema.multi) node.values = [resolved.value];
    else if (!node.values?.includes(resolved.value)) node.values = [...(node.values ?? []), resolved.value];
  }
  return null;
}

function deletePath(draft: Draft, schema: SchemaNode, path: string[], options: TreeOptions): string | null {
  const resolved = resolvePath(schema, path);
  if (!resolved || path.length === 0) return msg.cliFailure([msg.pathNotValid(path)], 'Delete');
  const missing = (): string | null => (options.strict ? msg.cliFailure([msg.deleteMissing(path)], 'Delete') : null);
  // Nothing is copied until the whole path is known to exist (a missing path changes nothing).
  if (!findNode(draft.root, resolved.nodePath)) return missing();
  const parents: ConfigNode[] = [draft.root];
  for (const name of resolved.nodePath.slice(0, -1)) parents.push(draft.child(parents[parents.length - 1], name)!);
  const parent = parents[parents.length - 1];
  const name = resolved.nodePath[resolved.nodePath.length - 1];
  const target = draft.child(parent, name)!;
  if (resolved.value !== undefined) {
    if (!target.values?.includes(resolved.value)) return missing();
    target.values = target.values.filter((x) => x !== resolved.value);
    if (target.values.length > 0) return null;
  }
  parent.children.delete(name);
  // Deleting the last value of a tag node removes the tag node itself; typeless parents stay (VCFG deleteCfgPath).
  if (parent.children.size === 0 && parent.kind === 'tag' && parents.length >= 2) {
    parents[parents.length - 2].children.delete(resolved.nodePath[resolved.nodePath.length - 2]);
  }
  return null;
}

/** `comment <node path...> <text>`: the last element is the text; an empty text removes the comment. */
function commentPath(draft: Draft, schema: SchemaNode, path: string[]): string | null {
  const target = path.slice(0, -1);
  const text = path[path.length - 1] ?? '';
  const resolved = target.length > 0 ? resolvePath(schema, target) : null;
  if (!resolved) return msg.cliFailure([msg.pathNotValid(target)], 'Comment');
  if (!findNode(draft.root, resolved.nodePath) || resolved.value !== undefined) {
    return msg.cliFailure([`The specified config node [${target.join(' ')}] does not exist`], 'Comment');
  }
  if (text.includes('*/')) return msg.cliFailure(['Cannot use the "*/" string in a comment'], 'Comment');
  let node = draft.root;
  for (const name of resolved.nodePath) node = draft.child(node, name)!;
  if (text === '') delete node.comment;
  else node.comment = text;
  return null;
}

/**
 * `exists`, `returnValues` and `returnValue` join the path with spaces and split it again
 * (vyos.config._make_path), so an element holding a space reads as two elements (§2 /retrieve).
 */
export function resplitPath(path: string[]): string[] {
  return path.join(' ').split(/\s+/).filter((p) => p !== '');
}

export function pathExists(tree: ConfigNode, schema: SchemaNode, path: string[]): boolean {
  const resolved = resolvePath(schema, resplitPath(path));
  if (!resolved) return false;
  const node = findNode(tree, resolved.nodePath);
  if (!node) return false;
  return resolved.value === undefined || (node.values ?? []).includes(resolved.value);
}

export function leafValues(tree: ConfigNode, schema: SchemaNode, path: string[]): string[] {
  const resolved = resolvePath(schema, resplitPath(path));
  if (!resolved || resolved.value !== undefined) return [];
  return [...(findNode(tree, resolved.nodePath)?.values ?? [])];
}

/** A leaf's value read straight from the tree by node path (no schema); for verification code. */
export function leafValue(node: ConfigNode | undefined, ...path: string[]): string | undefined {
  return findNode(node ?? emptyTree(), path)?.values?.[0];
}

/** Tag values sorted as VyOS lists them: numerically when both are numbers, else lexically. */
export function compareTagValues(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b) || a.localeCompare(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Children in rendering order: tag values numerically, other nodes by name. */
export function sortedChildren(node: ConfigNode): [string, ConfigNode][] {
  const entries = [...node.children];
  // The common big case, a tag node of rule numbers: compare numbers once converted, not per comparison.
  if (entries.length > 16 && entries.every(([k]) => /^[1-9][0-9]{0,14}$/.test(k))) {
    return entries.map((e) => [Number(e[0]), e] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  }
  return entries.sort(([a], [b]) => compareTagValues(a, b));
}
