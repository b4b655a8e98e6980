// What every vmapi command shares: its declaration (options for util.parseArgs, help text), the
// global options (server, key, output), and the context a command runs with.
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { GraphQLClient } from './client.js';
import { usageError } from './exit-codes.js';
import type { OutputMode } from './output.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Context {
  client: GraphQLClient;
  output: OutputMode;
  /** stdout */
  print(text: string): void;
  /** stderr, for notices (never data) */
  note(text: string): void;
}

export interface Command {
  group: string;
  name: string;
  /** e.g. `<id|name>`; shown in help */
  args: string;
  summary: string;
  /** help lines for the command's own options */
  optionHelp?: readonly string[];
  options: Options;
  /** how many positional arguments after the command words */
  positionals: { min: number; max: number };
  run(ctx: Context, values: Values, positionals: string[]): Promise<void>;
}

export const DEFAULT_URL = 'http://127.0.0.1:4000/graphql';

export const GLOBAL_OPTIONS: Options = {
  url: { type: 'string' },
  'key-file': { type: 'string' },
  key: { type: 'string' },
  output: { type: 'string', short: 'o' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
};

export const GLOBAL_HELP = [
  `--url URL         the server's GraphQL endpoint (env VMAPI_URL; default ${DEFAULT_URL})`,
  '--key-file PATH   read the API key from this file (env VMAPI_KEY_FILE); default: env VMAPI_KEY',
  '--key KEY         the API key itself: visible to other users in `ps`, prefer VMAPI_KEY or --key-file',
  '-o, --output json|table   default: table on a terminal, json otherwise',
  '-q, --quiet       no progress line or notices on stderr',
  '-h, --help        this help',
];

/**
 * The API key: --key, else --key-file, else VMAPI_KEY_FILE, else VMAPI_KEY; null when none is
 * given (the server then answers UNAUTHENTICATED, exit 17).
 */
export function apiKey(values: Values, env: NodeJS.ProcessEnv): string | null {
  if (typeof values.key === 'string') return values.key.trim() || null;
  const file = typeof values['key-file'] === 'string' ? values['key-file'] : env.VMAPI_KEY_FILE?.trim() || undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw usageError(`cannot read the key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const key = text.trim();
    if (!key) throw usageError(`the key file ${file} is empty`);
    return key;
  }
  return env.VMAPI_KEY?.trim() || null;
}

export function serverUrl(values: Values, env: NodeJS.ProcessEnv): string {
  const raw = (typeof values.url === 'string' ? values.url : env.VMAPI_URL?.trim()) || DEFAULT_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError(`not a URL: ${raw}`);
  }
  if (!/^https?:$/.test(u.protocol)) throw usageError(`--url must be http:// or https://, got ${raw}`);
  // A bare server address means its GraphQL endpoint.
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  return u.toString();
}

export function outputMode(values: Values, stdoutIsTty: boolean): OutputMode {
  const raw = values.output;
  if (raw === undefined) return stdoutIsTty ? 'table' : 'json';
  if (raw !== 'json' && raw !== 'table') throw usageError(`--output must be json or table, got ${String(raw)}`);
  return raw;
}

/** A whole number in [min, max] from an option, or undefined when the option is absent. */
export function intOption(values: Values, name: string, min: number, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw usageError(`--${name} must be a whole number from ${min} to ${max}, got ${String(raw)}`);
  }
  return Number(raw);
}

/** An option whose value is one of a closed set, compared case-insensitively; returned upper-case. */
export function choiceOption<T extends string>(values: Values, name: string, allowed: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = String(raw).toUpperCase() as T;
  if (!allowed.includes(v)) throw usageError(`--${name} must be one of ${allowed.map((a) => a.toLowerCase()).join(', ')}, got ${String(raw)}`);
  return v;
}
