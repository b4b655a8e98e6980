// How VyOS's config parser reads back the values that showConfig prints (research §6): vyatta-cfg's
// `_print_value_str` prints a value raw and double-quotes it only when it is empty or holds one of
// `*}{;`, a space or \t \n \v \f \r (VCFG cnode-algorithm.cpp); vyos1x-config's lexer
// (`read_double_quoted_string`, vyos1x_lexer.mll) interprets backslash escapes inside quotes and accepts
// only \/ \\ \b \f \n \r \t \' \". Any other `\x` is `Failure "lexing: empty token"`, and a quoted value
// ending in `\` turns the closing quote into an escape and runs the string on (a syntax error).
// `vyos.config.Config()` parses the whole running and working config this way (configsource.py), so
// one such value anywhere breaks every /retrieve (see api-routes.ts).

import type { ConfigNode } from './config-tree';

/** True when showConfig prints the value in double quotes. */
export function showConfigQuotes(value: string): boolean {
  return value === '' || /[*}{;\t\n\v\f\r ]/.test(value);
}

const ESCAPES: Record<string, string> = { '/': '/', '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', "'": "'", '"': '"' };

/** The value the parser gets back from a printed value, or null when the lexer fails on it. */
export function lexedValue(value: string): string | null {
  if (!showConfigQuotes(value)) return value; // an unquoted IDENTIFIER: backslashes survive
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = value[i + 1];
    // A trailing backslash escapes the closing quote: the string runs on and the parse fails.
    if (next === undefined || !(next in ESCAPES)) return null;
    out += ESCAPES[next];
    i++;
  }
  return out;
}

// Built trees are never changed (config-tree.ts copies on write and shares what a change leaves
// alone), so a node's parse is kept with it: after a one-rule commit only that rule's path is parsed.
const parses = new WeakMap<ConfigNode, ConfigNode | null>();

/** The tree as `Config()` sees it after the round trip (escapes interpreted), or null when it does not parse. */
export function parsedTree(tree: ConfigNode): ConfigNode | null {
  let parsed = parses.get(tree);
  if (parsed === undefined) parses.set(tree, (parsed = parseNode(tree)));
  return parsed;
}

function parseNode(tree: ConfigNode): ConfigNode | null {
  const copy: ConfigNode = { kind: tree.kind, children: new Map() };
  if (tree.comment !== undefined) copy.comment = tree.comment;
  if (tree.values) {
    const values: string[] = [];
    for (const v of tree.values) {
      const lexed = lexedValue(v);
      if (lexed === null) return null;
      values.push(lexed);
    }
    copy.values = values;
  }
  for (const [name, child] of tree.children) {
    // Tag values cannot hold whitespace, so they are never quoted and never re-lexed.
    const parsed = parsedTree(child);
    if (parsed === null) return null;
    copy.children.set(name, parsed);
  }
  return copy;
}
