// The three ways the router prints its configuration: showConfig JSON (vyos-api.md §3), the curly
// config.boot text (`configFormat: raw`, `/config-file save`), and flat `set` commands (`show configuration commands`).

import { findNode, sortedChildren, type ConfigNode } from './config-tree';
import { resolvePath, type SchemaNode } from './schema';
import { SHOW_EMPTY, SHOW_INVALID } from './router-messages';

export type JsonConfig = { [name: string]: string | string[] | JsonConfig };

export type ShowResult<T> = { ok: true; data: T } | { ok: false; error: string };

/** One value is a string even on a multi-value node; several are a list; every value is a string (§3). */
function renderValues(values: string[]): string | string[] {
  return values.length === 1 ? values[0] : [...values];
}

/** The children of a node as JSON; valueless leaves and empty nodes are `{}`; comments are dropped. */
export function renderJson(node: ConfigNode): JsonConfig {
  const out: JsonConfig = {};
  for (const [name, child] of sortedChildren(node)) {
    out[name] = child.kind === 'leaf' && child.values?.length ? renderValues(child.values) : renderJson(child);
  }
  return out;
}

/** Where a showConfig path points, or the router's error for it. */
function locate(tree: ConfigNode, schema: SchemaNode, path: string[]): ShowResult<{ node: ConfigNode; leafName?: string }> {
  if (path.length === 0) return tree.children.size ? { ok: true, data: { node: tree } } : { ok: false, error: SHOW_EMPTY };
  const resolved = resolvePath(schema, path);
  if (!resolved) return { ok: false, error: SHOW_INVALID };
  const node = findNode(tree, resolved.nodePath);
  if (!node) return { ok: false, error: SHOW_EMPTY };
  if (resolved.at === 'leaf') {
    // A trailing value that is not set reads as "empty", like any other missing path.
    if (resolved.value !== undefined && !node.values?.includes(resolved.value)) return { ok: false, error: SHOW_EMPTY };
    return { ok: true, data: { node, leafName: resolved.nodePath[resolved.nodePath.length - 1] } };
  }
  // cli-shell-api prints nothing for an empty node or a valueless leaf: "empty" (exit 3).
  if (node.children.size === 0) return { ok: false, error: SHOW_EMPTY };
  return { ok: true, data: { node } };
}

/** `/retrieve showConfig` with `configFormat: json`: children of the path, or `{leaf: value}` for a leaf path. */
export function showConfigJson(tree: ConfigNode, schema: SchemaNode, path: string[]): ShowResult<JsonConfig> {
  const found = locate(tree, schema, path);
  if (!found.ok) return found;
  const { node, leafName } = found.data;
  if (leafName !== undefined) return { ok: true, data: { [leafName]: renderValues(node.values ?? []) } };
  return { ok: true, data: renderJson(node) };
}

/** `/retrieve showConfig` with `configFormat: raw`: the config.boot text under the path. */
export function showConfigRaw(tree: ConfigNode, schema: SchemaNode, path: string[]): ShowResult<string> {
  const found = locate(tree, schema, path);
  if (!found.ok) return found;
  const { node, leafName } = found.data;
  if (leafName !== undefined) return { ok: true, data: leafLines(leafName, node, '') };
  return { ok: true, data: renderBoot(node) };
}

/** Values are double-quoted when they hold anything a config.boot reader would split on. */
function bootValue(value: string): string {
  return value === '' || /[\s{}"';#*/\\]/.test(value) ? `"${value}"` : value;
}

function leafLines(name: string, node: ConfigNode, pad: string): string {
  return (node.values ?? []).map((value) => `${pad}${name} ${bootValue(value)}\n`).join('');
}

// Built trees are never changed (config-tree.ts copies on write), so each node's text is kept per
// indentation: a save after a one-rule commit renders that rule and joins the rest (a 30,000-rule save
// would otherwise cost the simulator seconds, which the benchmarks would count as the router's).
const bootTexts = new WeakMap<ConfigNode, Map<string, string>>();

/** The config.boot text of a node's children, four spaces per level. */
export function renderBoot(node: ConfigNode, pad = ''): string {
  let texts = bootTexts.get(node);
  if (!texts) bootTexts.set(node, (texts = new Map()));
  let text = texts.get(pad);
  if (text === undefined) texts.set(pad, (text = renderBootText(node, pad)));
  return text;
}

function renderBootText(node: ConfigNode, pad: string): string {
  let out = '';
  const comment = (c: ConfigNode): string => (c.comment !== undefined ? `${pad}/* ${c.comment} */\n` : '');
  for (const [name, child] of sortedChildren(node)) {
    if (child.kind === 'leaf') out += comment(child) + leafLines(name, child, pad);
    else if (child.kind === 'valueless') out += comment(child) + `${pad}${name}\n`;
    else if (child.kind === 'tag') {
      out += comment(child);
      for (const [value, entry] of sortedChildren(child)) {
        out += (entry.comment !== undefined ? `${pad}/* ${entry.comment} */\n` : '') +
          `${pad}${name} ${value} {\n${renderBoot(entry, pad + '    ')}${pad}}\n`;
      }
    } else out += comment(child) + `${pad}${name} {\n${renderBoot(child, pad + '    ')}${pad}}\n`;
  }
  return out;
}

/** `show configuration commands`: one `set` line per leaf value, values in single quotes, as VyOS prints them. */
export function renderSetCommands(node: ConfigNode, prefix: string[] = []): string[] {
  const lines: string[] = [];
  for (const [name, child] of sortedChildren(node)) {
    const path = [...prefix, name];
    if (child.kind === 'leaf') for (const value of child.values ?? []) lines.push(`set ${path.join(' ')} '${value}'`);
    else if (child.children.size === 0) lines.push(`set ${path.join(' ')}`);
    else lines.push(...renderSetCommands(child, path));
  }
  return lines;
}
