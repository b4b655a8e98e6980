// One router's settings as a Config view (docs/operations.md "A fleet of routers"). Every part of
// the change pipeline already reads its router from Config (routerName, vyosUrl, ranges, syntax,
// locks), so a router's unit is built exactly like the single-router server, from its own view.
// Pure apart from reading the key its reference names.
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Router } from '../domain/entities/index.js';
import { parseIpv4Range, parseNumberRange } from './ranges.js';

/** Where a key reference points: `env:NAME` or `file:/absolute/path`; null when it is neither. */
export function parseKeyRef(ref: string): { env: string } | { file: string } | null {
  const env = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref);
  if (env) return { env: env[1] };
  const file = /^file:(\/.+)$/.exec(ref);
  return file ? { file: file[1] } : null;
}

/** The key a reference names, read now (a rotated file or variable is read again at the next start of the unit). */
export function readKey(ref: string, env: Record<string, string | undefined> = process.env): string {
  const where = parseKeyRef(ref);
  if (!where) throw new Error(`credential reference "${ref}" is not env:NAME or file:/path`);
  if ('env' in where) {
    const v = env[where.env];
    if (!v) throw new Error(`credential reference ${ref}: the variable is not set`);
    return v;
  }
  const v = readFileSync(where.file, 'utf8').replace(/\r?\n$/, '');
  if (!v.trim()) throw new Error(`credential reference ${ref}: the file is empty`);
  return v;
}

const SYNTAXES = ['auto', '1.3', '1.4'] as const;
const CONFIRMS = ['auto', 'on', 'off'] as const;
const pick = <T extends string>(v: string | null | undefined, allowed: readonly T[], fallback: T): T => (allowed.includes(v as T) ? (v as T) : fallback);

/**
 * The Config a registered router's unit runs with: the server's settings, its router's own
 * connection, syntax, commit-confirm and ranges. The environment's router is the environment's
 * Config itself (hairpin twins are configured for it alone).
 */
export function routerConfig(base: Config, row: Router, key: string): Config {
  return {
    ...base,
    routerName: row.name,
    vyosUrl: row.url ?? null,
    vyosApiKey: key,
    vyosApiKeyRef: row.keyRef ?? null,
    vyosTlsInsecure: row.tlsInsecure,
    vyosCaFile: row.caFile ?? null,
    vyosSyntax: pick(row.syntax, SYNTAXES, 'auto'),
    vyosCommitConfirm: pick(row.commitConfirm, CONFIRMS, 'auto'),
    wanInterface: row.wanInterface ?? base.wanInterface,
    natRuleRange: (row.natRuleRange && parseNumberRange(row.natRuleRange, 1, 999_999)) || base.natRuleRange,
    externalPortRange: (row.externalPortRange && parseNumberRange(row.externalPortRange, 1, 65_535)) || base.externalPortRange,
    lanPool: (row.lanPool && parseIpv4Range(row.lanPool)) || base.lanPool,
    hairpin: null,
  };
}
