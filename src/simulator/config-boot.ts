// Reading config.boot text back into commands, for `/config-file load|merge` and a revert to the saved
// config. The schema says what each word is, so the reader needs no newlines: a leaf is followed by one
// value, a tag by a value and a block, a container by a block.

import type { RouterCommand } from '../vyos/types';
import type { SchemaNode } from './schema';

type Token = { type: 'word' | 'open' | 'close' | 'comment'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) i++;
    else if (text.startsWith('//', i)) i = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
    else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated comment');
      tokens.push({ type: 'comment', text: text.slice(i + 2, end).trim() });
      i = end + 2;
    } else if (ch === '{') {
      tokens.push({ type: 'open', text: ch });
      i++;
    } else if (ch === '}') {
      tokens.push({ type: 'close', text: ch });
      i++;
    } else if (ch === '"') {
      const end = text.indexOf('"', i + 1);
      if (end === -1) throw new Error('unterminated quoted value');
      tokens.push({ type: 'word', text: text.slice(i + 1, end) });
      i = end + 1;
    } else {
      const m = /^[^\s{}"]+/.exec(text.slice(i));
      const word = m ? m[0] : ch;
      tokens.push({ type: 'word', text: word });
      i += word.length;
    }
  }
  return tokens;
}

/** Parses config.boot text into the `set` (and `comment`) commands that rebuild it; throws on bad syntax. */
export function parseBoot(text: string, schema: SchemaNode): RouterCommand[] {
  if (schema.kind !== 'node') throw new Error('schema root must be a node');
  const tokens = tokenize(text);
  let pos = 0;
  const commands: RouterCommand[] = [];
  const next = (what: string): Token => {
    const t = tokens[pos++];
    if (!t) throw new Error(`unexpected end of configuration, expected ${what}`);
    return t;
  };
  const expect = (type: Token['type'], what: string): Token => {
    const t = next(what);
    if (t.type !== type) throw new Error(`expected ${what}, found "${t.text}"`);
    return t;
  };

  const block = (children: Record<string, SchemaNode>, prefix: string[], topLevel: boolean): void => {
    let pendingComment: string | undefined;
    for (;;) {
      const t = tokens[pos];
      if (!t) {
        if (topLevel) return;
        throw new Error('unexpected end of configuration, expected "}"');
      }
      if (t.type === 'close') {
        if (topLevel) throw new Error('unexpected "}"');
        pos++;
        return;
      }
      pos++;
      if (t.type === 'comment') {
        pendingComment = t.text;
        continue;
      }
      if (t.type !== 'word') throw new Error(`unexpected "${t.text}"`);
      const s = Object.prototype.hasOwnProperty.call(children, t.text) ? children[t.text] : undefined;
      if (!s) throw new Error(`Configuration path: [${[...prefix, t.text].join(' ')}] is not valid`);
      let path = [...prefix, t.text];
      const before = commands.length;
      if (s.kind === 'leaf') commands.push({ op: 'set', path: [...path, expect('word', 'a value').text] });
      else if (s.kind === 'valueless') commands.push({ op: 'set', path });
      else {
        if (s.kind === 'tag') path = [...path, expect('word', 'a tag value').text];
        expect('open', '"{"');
        block(s.children, path, false);
        // An empty block is still a node (e.g. a `destination` left behind by a delete).
        if (commands.length === before) commands.push({ op: 'set', path });
      }
      if (pendingComment !== undefined) commands.push({ op: 'comment', path: [...path, pendingComment] });
      pendingComment = undefined;
    }
  };
  block(schema.children, [], true);
  return commands;
}
