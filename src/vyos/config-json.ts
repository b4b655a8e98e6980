// Set/delete commands -> the JSON that /retrieve showConfig returns (vyos-api.md §3). Pure.
// Used to test parsing against what rendering produces without a router; it knows only the little
// schema our NAT rules need (which nodes are valueless), not VyOS's whole schema.
import type { RouterCommand } from './types';

/** Nodes that take no value: `set ... disable` adds `"disable": {}` (vyos-api.md §3, §5). */
export const NAT_VALUELESS_NODES: ReadonlySet<string> = new Set(['disable', 'log', 'exclude']);
/** Tag nodes: deleting the last tag value removes the tag node too (vyos-api.md §1). */
export const NAT_TAG_NODES: ReadonlySet<string> = new Set(['rule']);

type Tree = { [name: string]: Tree | string | string[] };

function isTree(v: Tree[string] | undefined): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descend(root: Tree, path: readonly string[]): Tree | undefined {
  let node: Tree = root;
  for (const name of path) {
    const next = node[name];
    if (!isTree(next)) return undefined;
    node = next;
  }
  return node;
}

function ensure(root: Tree, path: readonly string[]): Tree {
  let node = root;
  for (const name of path) {
    const next = node[name];
    if (!isTree(next)) node[name] = {};
    node = node[name] as Tree;
  }
  return node;
}

function applySet(root: Tree, path: string[], valueless: ReadonlySet<string>, multi: ReadonlySet<string>): void {
  const last = path[path.length - 1];
  if (valueless.has(last) || path.length < 2) {
    ensure(root, path);
    return;
  }
  // Otherwise the last element is the value of the leaf before it.
  const leaf = path[path.length - 2];
  const parent = ensure(root, path.slice(0, -2));
  const current = parent[leaf];
  if (multi.has(leaf) && current !== undefined && !isTree(current)) {
    // Multi-value leaves append; one value is a string, several a list (vyos-api.md §3).
    const values = Array.isArray(current) ? current : [current];
    if (!values.includes(last)) parent[leaf] = [...values, last];
  } else {
    parent[leaf] = last; // single-value leaves are replaced (vyos-api.md §1, set semantics)
  }
}

function applyDelete(root: Tree, path: string[], tagNodes: ReadonlySet<string>): void {
  const parent = descend(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (parent && last in parent) {
    delete parent[last];
    const tag = path[path.length - 2];
    if (tagNodes.has(tag) && Object.keys(parent).length === 0) delete descend(root, path.slice(0, -2))?.[tag];
  } else if (path.length >= 2) {
    // `delete ... leaf value`: remove that one value.
    const owner = descend(root, path.slice(0, -2));
    const leaf = path[path.length - 2];
    const current = owner?.[leaf];
    if (owner && typeof current === 'string' && current === last) delete owner[leaf];
    if (owner && Array.isArray(current)) {
      const rest = current.filter((v) => v !== last);
      owner[leaf] = rest.length === 1 ? rest[0] : rest;
    }
  }
}

/**
 * The showConfig `data` for `basePath` after applying `commands` to an empty config: the children
 * of the node at `basePath`, or null when there is nothing there (the router's 400 "Configuration
 * under specified path is empty", which the client maps to null).
 */
export function commandsToConfigJson(
  commands: RouterCommand[],
  basePath: readonly string[],
  schema: { valueless?: ReadonlySet<string>; multiValue?: ReadonlySet<string>; tagNodes?: ReadonlySet<string> } = {},
): unknown | null {
  const valueless = schema.valueless ?? NAT_VALUELESS_NODES;
  const multi = schema.multiValue ?? new Set<string>();
  const tagNodes = schema.tagNodes ?? NAT_TAG_NODES;
  const root: Tree = {};
  for (const c of commands) {
    if (c.path.length === 0) continue;
    if (c.op === 'set') applySet(root, c.path, valueless, multi);
    else if (c.op === 'delete') applyDelete(root, c.path, tagNodes);
    // comments are dropped from the json format (vyos-api.md §3)
  }
  const node = descend(root, basePath);
  return node && Object.keys(node).length > 0 ? node : null;
}
