// What an audit row says about a request, from its arguments and result (pure): the arguments
// with secrets redacted, and the ids of what the change named or made (docs/security.md
// "Audit trail" states the redaction rule; keep the two in step).

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Argument and field names whose values are never stored: any name containing one of these, in any case. */
export const SECRET_NAME = /key|secret|password|passphrase|token|authorization|credential/i;

// An API key of this server (`vmk_<prefix>_<secret>`, api-key-secret.ts), wherever it appears.
const API_KEY_TEXT = /vmk_[0-9a-f]{12}_[A-Za-z0-9_-]+/g;

/** Strings longer than this are cut: a row records what was asked, not bulk data. */
const MAX_TEXT = 1000;
const MAX_DEPTH = 8;

/** The arguments as JSON with every secret redacted (see SECRET_NAME and API_KEY_TEXT). */
export function redactArguments(args: Record<string, unknown>): Record<string, unknown> {
  return redact(args, 0) as Record<string, unknown>;
}

function redact(v: unknown, depth: number): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') {
    const text = v.replace(API_KEY_TEXT, REDACTED);
    return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      out[k] = SECRET_NAME.test(k) && x !== null ? REDACTED : redact(x, depth + 1);
    }
    return out;
  }
  return String(v);
}

export interface Affected {
  vmIds: string[];
  portRuleIds: string[];
  apiKeyIds: string[];
}

type Kind = keyof Affected;

/** What the `id` argument of a mutation names (other mutations' `id`s name nothing we index). */
const ID_ARG: Readonly<Record<string, Kind>> = {
  decommissionVm: 'vmIds',
  updateVm: 'vmIds',
  updatePortRule: 'portRuleIds',
  setPortRuleEnabled: 'portRuleIds',
  removePortRule: 'portRuleIds',
  revokeApiKey: 'apiKeyIds',
};

/** What a mutation's result (an id, or an object's `id`) names. */
const RESULT: Readonly<Record<string, Kind>> = {
  ...ID_ARG,
  provisionVm: 'vmIds',
  addPortRule: 'portRuleIds',
  createApiKey: 'apiKeyIds',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function noneAffected(): Affected {
  return { vmIds: [], portRuleIds: [], apiKeyIds: [] };
}

/** Adds `id` to `kind` when it is a UUID not there yet. */
export function addAffected(a: Affected, kind: Kind, id: unknown): void {
  if (typeof id === 'string' && UUID.test(id) && !a[kind].includes(id.toLowerCase())) a[kind].push(id.toLowerCase());
}

/** The ids a mutation's arguments name. */
export function affectedByArguments(operation: string, args: Record<string, unknown>): Affected {
  const a = noneAffected();
  addAffected(a, 'vmIds', args.vmId);
  const kind = ID_ARG[operation];
  if (kind) addAffected(a, kind, args.id);
  return a;
}

/** Adds what a result names: an id, or an object with `id`, `vmId`, `vm.id`, `apiKey.id`. */
export function addResultIds(a: Affected, operation: string, result: unknown): void {
  const kind = RESULT[operation];
  if (typeof result === 'string') {
    if (kind) addAffected(a, kind, result);
    return;
  }
  if (!result || typeof result !== 'object') return;
  const r = result as Record<string, unknown>;
  if (kind) addAffected(a, kind, r.id);
  addAffected(a, 'vmIds', r.vmId);
  addAffected(a, 'vmIds', (r.vm as { id?: unknown } | null | undefined)?.id);
  addAffected(a, 'apiKeyIds', (r.apiKey as { id?: unknown } | null | undefined)?.id);
}
