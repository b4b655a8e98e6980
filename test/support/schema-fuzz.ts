// A schema-driven fuzzer: random documents and variables built from the live server's own
// introspection (seeded, so a finding replays), sent over HTTP and WebSocket as admin, viewer or
// nobody, and every reply checked: no 5xx, no INTERNAL_SERVER_ERROR, no code outside the closed
// set, no stack trace, and data that agrees with the schema (types, nullability, enum values).
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import type { Client } from 'graphql-ws';
import { ErrorCode, ProtocolCode } from '../../src/domain/errors.js';
import { wsClient, wsOperation } from './ws-operation.js';
import { prng } from './prng.js';


// Fields the fuzzer leaves alone: revoking keys would lock it out of its own server.
const SKIPPED_FIELDS = new Set(['Mutation.revokeApiKey']);
const CODES = new Set<string>([...Object.values(ErrorCode), ...Object.values(ProtocolCode)]);
const MAX_DEPTH = 4;

const STRINGS = ['', 'a', 'web-1', 'x'.repeat(300), "it's", 'a"b', 'line\nbreak', '\u0000', '😀', '$(reboot)', '"; delete nat', '10.0.0.0/24', '192.168.64.150', '::1', '2026-01-01T00:00:00Z', 'null', '{}', '-1'];
const INTS = [0, 1, -1, 2, 22, 80, 443, 65535, 65536, 200, 201, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 1e15];

export interface FuzzFinding {
  seed: number;
  iteration: number;
  transport: 'http' | 'ws';
  problem: string;
  query: string;
  variables: Record<string, unknown>;
  reply: string;
}

export interface FuzzOptions {
  url: string;
  adminKey: string;
  viewerKey: string;
  seed: number;
  /** stop after this long, or after `iterations`, whichever is first */
  durationMs: number;
  iterations?: number;
  /** share of requests sent over WebSocket (queries and mutations only) */
  wsShare?: number;
}

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  /** replies with data and no error, by operation type */
  succeeded: Record<string, number>;
  findings: FuzzFinding[];
}

class DocumentBuilder {
  private vars: string[] = [];
  readonly variables: Record<string, unknown> = {};
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rnd: () => number,
    private readonly ids: string[],
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
  private chance(p: number): boolean {
    return this.rnd() < p;
  }

  /** A JSON value for an input type: mostly right, sometimes wrong in the ways clients get it wrong. */
  value(type: GraphQLInputType, depth = 0): unknown {
    if (isNonNullType(type)) return this.chance(0.03) ? null : this.value(type.ofType, depth);
    if (this.chance(0.05)) return null;
    if (this.chance(0.04)) return this.pick<unknown>([this.pick(STRINGS), this.pick(INTS), true, 1.5, [], {}]);
    if (isListType(type)) return Array.from({ length: Math.floor(this.rnd() * 3) }, () => this.value(type.ofType, depth + 1));
    if (isEnumType(type)) return this.chance(0.9) ? this.pick(type.getValues()).name : this.pick(['tcp', 'NOPE', '']);
    if (isInputObjectType(type)) {
      const out: Record<string, unknown> = {};
      for (const f of Object.values(type.getFields())) {
        if (isNonNullType(f.type) || this.chance(0.5)) out[f.name] = depth > 3 ? null : this.value(f.type, depth + 1);
      }
      if (this.chance(0.05)) out[this.pick(['nmae', 'extra', '__proto__'])] = 1;
      return out;
    }
    return this.scalar(type.name);
  }

  private scalar(name: string): unknown {
    switch (name) {
      case 'Int':
        return this.pick(INTS);
      case 'Float':
        return this.pick([0, 1.5, -2.25, 1e308, 80]);
      case 'Boolean':
        return this.chance(0.5);
      case 'ID':
        return this.ids.length && this.chance(0.6) ? this.pick(this.ids) : this.pick(['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '1', '', "'; drop table vm; --"]);
      case 'Port':
        return this.pick([1, 22, 80, 8080, 32000 + Math.floor(this.rnd() * 1000), 0, 65536, -5, 'eighty']);
      case 'IPv4':
        return this.pick(['192.168.64.120', '192.168.64.' + Math.floor(this.rnd() * 256), '10.1.2.3', '999.1.1.1', '::1', 'localhost']);
      case 'DateTime':
        return this.pick(['2030-01-01T00:00:00Z', '2000-01-01T00:00:00Z', 'yesterday', '2030-13-45T99:00:00Z']);
      default:
        return this.chance(0.7) ? this.pick(STRINGS) : `fz-${Math.floor(this.rnd() * 1e6).toString(36)}`;
    }
  }

  /** A GraphQL literal for the same value (strings escaped as JSON does, which GraphQL accepts). */
  literal(value: unknown, type: GraphQLInputType): string {
    if (value === null || value === undefined) return 'null';
    const named = getNamedType(type);
    if (Array.isArray(value)) return `[${value.map((v) => this.literal(v, isListType(getNullableType(type)) ? (getNullableType(type) as { ofType: GraphQLInputType }).ofType : type)).join(', ')}]`;
    if (typeof value === 'object') {
      const fields = isInputObjectType(named) ? named.getFields() : {};
      return `{ ${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : 'bad'}: ${this.literal(v, fields[k]?.type ?? type)}`).join(', ')} }`;
    }
    if (isEnumType(named) && typeof value === 'string' && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value)) return value;
    if (typeof value === 'number' && !Number.isFinite(value)) return '0';
    return JSON.stringify(value);
  }

  private argument(arg: GraphQLArgument): string | null {
    if (!isNonNullType(arg.type) && this.chance(0.4)) return null;
    if (this.chance(0.03)) return null; // a required argument missing: validation's to refuse
    const value = this.value(arg.type);
    if (this.chance(0.5)) {
      const name = `v${this.vars.length}`;
      // Mostly the argument's own type; sometimes a looser or a wrong one.
      const declared = this.chance(0.9) ? String(arg.type) : this.pick(['String', 'Int', String(getNullableType(arg.type)), 'Nope']);
      this.vars.push(`$${name}: ${declared}`);
      if (!this.chance(0.05)) this.variables[name] = value;
      return `${arg.name}: $${name}`;
    }
    return `${arg.name}: ${this.literal(value, arg.type)}`;
  }

  private field(parent: GraphQLObjectType, field: GraphQLField<unknown, unknown>, depth: number): string {
    const args = field.args.map((a) => this.argument(a)).filter(Boolean);
    const alias = this.chance(0.15) ? `a${Math.floor(this.rnd() * 1000)}: ` : '';
    const named = getNamedType(field.type);
    const head = `${alias}${field.name}${args.length ? `(${args.join(', ')})` : ''}`;
    if (isScalarType(named) || isEnumType(named)) return this.chance(0.02) ? `${head} { id }` : head;
    return `${head} ${this.selection(named, depth + 1)}`;
  }

  selection(type: GraphQLNamedType, depth: number): string {
    if (this.chance(0.02)) return '{ noSuchField }';
    const parts: string[] = [];
    if (isUnionType(type) || isInterfaceType(type)) {
      parts.push('__typename');
      const members = isUnionType(type) ? type.getTypes() : this.schema.getPossibleTypes(type);
      for (const m of members) if (this.chance(0.6)) parts.push(`... on ${m.name} ${this.selection(m, depth)}`);
      return `{ ${parts.join(' ')} }`;
    }
    if (!isObjectType(type)) return '';
    const fields = Object.values(type.getFields());
    const leaves = fields.filter((f) => {
      const n = getNamedType(f.type);
      return isScalarType(n) || isEnumType(n);
    });
    const take = depth >= MAX_DEPTH ? leaves : fields;
    for (const f of take) if (this.chance(depth >= MAX_DEPTH ? 0.5 : 0.35)) parts.push(this.field(type, f, depth));
    if (parts.length === 0) parts.push(leaves.length ? this.field(type, this.pick(leaves), depth) : '__typename');
    if (this.chance(0.1)) parts.push('__typename');
    return `{ ${parts.join(' ')} }`;
  }

  document(): { query: string; operation: 'query' | 'mutation' | 'subscription' } {
    const r = this.rnd();
    const operation = r < 0.62 ? 'query' : r < 0.97 ? 'mutation' : 'subscription';
    const root = operation === 'query' ? this.schema.getQueryType()! : operation === 'mutation' ? this.schema.getMutationType()! : this.schema.getSubscriptionType()!;
    const fields = Object.values(root.getFields()).filter((f) => !SKIPPED_FIELDS.has(`${root.name}.${f.name}`));
    const count = operation === 'subscription' ? 1 : 1 + Math.floor(this.rnd() * 2);
    const parts = Array.from({ length: count }, (_, i) => {
      const f = this.pick(fields);
      const text = this.field(root, f, 1);
      return i > 0 && !/^a\d+: /.test(text) ? `b${i}: ${text}` : text;
    });
    const name = this.chance(0.3) ? ` Fuzz${Math.floor(this.rnd() * 100)}` : '';
    const defs = this.vars.length ? `(${this.vars.join(', ')})` : '';
    let query = `${operation}${name}${defs} { ${parts.join(' ')} }`;
    // A few documents broken the way hand-typed ones are.
    if (this.chance(0.02)) query = query.slice(0, Math.floor(this.rnd() * query.length));
    return { query, operation };
  }
}

interface Reply {
  data?: unknown;
  errors?: { message?: unknown; path?: (string | number)[]; extensions?: { code?: unknown } }[];
}

/** Where the data contradicts the schema (null where non-null without an error there, wrong leaf types). */
export function schemaViolations(schema: GraphQLSchema, operation: 'query' | 'mutation' | 'subscription', reply: Reply): string[] {
  const problems: string[] = [];
  if (reply.data === undefined || reply.data === null) return problems;
  const errorPaths = (reply.errors ?? []).map((e) => (e.path ?? []).join('.'));
  const covered = (path: string) => errorPaths.some((p) => p === path || p.startsWith(path + '.') || path.startsWith(p + '.') || p === '');
  const root = operation === 'query' ? schema.getQueryType() : operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const visit = (value: unknown, type: GraphQLOutputType, path: string, fieldName: string) => {
    if (value === null) {
      if (isNonNullType(type) && !covered(path)) problems.push(`${path}: null for ${String(type)} with no error there`);
      return;
    }
    const t = getNullableType(type) as GraphQLOutputType;
    if (isListType(t)) {
      if (!Array.isArray(value)) return void problems.push(`${path}: not a list for ${String(t)}`);
      value.forEach((v, i) => visit(v, t.ofType, `${path}.${i}`, fieldName));
      return;
    }
    if (isEnumType(t)) {
      if (!t.getValues().some((v) => v.name === value)) problems.push(`${path}: ${JSON.stringify(value)} is not a ${t.name}`);
      return;
    }
    if (isScalarType(t)) {
      const ok =
        t.name === 'Int' ? Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31
        : t.name === 'Float' ? typeof value === 'number'
        : t.name === 'Boolean' ? typeof value === 'boolean'
        : t.name === 'Port' ? Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535
        : t.name === 'IPv4' ? typeof value === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(value)
        : t.name === 'DateTime' ? typeof value === 'string' && !Number.isNaN(Date.parse(value))
        : t.name === 'JSONObject' ? typeof value === 'object' && value !== null && !Array.isArray(value)
        : typeof value === 'string';
      if (!ok) problems.push(`${path}: ${JSON.stringify(value)} is not a ${t.name}`);
      return;
    }
    if (typeof value !== 'object' || Array.isArray(value)) return void problems.push(`${path}: not an object for ${String(t)}`);
    const obj = value as Record<string, unknown>;
    const concrete = isObjectType(t) ? t : typeof obj.__typename === 'string' ? (schema.getType(obj.__typename) as GraphQLObjectType | undefined) : undefined;
    if (!concrete || !isObjectType(concrete)) return; // an abstract type without __typename: nothing to check against
    for (const [key, v] of Object.entries(obj)) {
      if (key === '__typename') continue;
      // Aliases hide the field: a key that names a field is checked, anything else is left.
      const field = concrete.getFields()[key];
      if (field) visit(v, field.type, `${path}.${key}`, key);
    }
  };
  if (!root) return problems;
  for (const [key, v] of Object.entries(reply.data as Record<string, unknown>)) {
    const field = root.getFields()[key];
    if (field) visit(v, field.type, key, key);
  }
  return problems;
}

function collectIds(value: unknown, into: string[]): void {
  if (Array.isArray(value)) return value.forEach((v) => collectIds(v, into));
  if (!value || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'id' && typeof v === 'string' && !into.includes(v)) {
      into.push(v);
      if (into.length > 50) into.shift();
    } else collectIds(v, into);
  }
}

/** What is wrong with one reply, if anything. */
export function replyProblems(schema: GraphQLSchema, operation: 'query' | 'mutation' | 'subscription', status: number | null, text: string): string[] {
  const problems: string[] = [];
  if (status !== null && status >= 500) problems.push(`HTTP ${status}`);
  if (/stacktrace/i.test(text)) problems.push('a stack trace in the reply');
  let reply: Reply;
  try {
    reply = JSON.parse(text) as Reply;
  } catch {
    return [...problems, 'the reply is not JSON'];
  }
  if (status === 429) return problems;
  if (reply.data === undefined && !reply.errors?.length) problems.push('neither data nor errors');
  for (const e of reply.errors ?? []) {
    const code = e.extensions?.code;
    if (code === 'INTERNAL_SERVER_ERROR') problems.push(`INTERNAL_SERVER_ERROR at ${(e.path ?? []).join('.') || 'the request'}`);
    else if (typeof code !== 'string' || !CODES.has(code)) problems.push(`an error code outside the closed set: ${String(code)} (${String(e.message)})`);
  }
  return [...problems, ...schemaViolations(schema, operation, reply)];
}

export async function introspect(url: string, key: string): Promise<GraphQLSchema> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: getIntrospectionQuery() }) });
  const body = (await res.json()) as { data: IntrospectionQuery };
  return buildClientSchema(body.data);
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const schema = await introspect(opts.url, opts.adminKey);
  const report: FuzzReport = { requests: 0, byStatus: {}, byCode: {}, succeeded: {}, findings: [] };
  const ids: string[] = [];
  const deadline = Date.now() + opts.durationMs;
  const sockets = new Map<string, Client>();
  const socket = (key: string) => sockets.get(key) ?? sockets.set(key, wsClient(opts.url, key)).get(key)!;
  try {
    for (let i = 0; Date.now() < deadline && (opts.iterations === undefined || i < opts.iterations); i++) {
      const seed = (opts.seed + i) >>> 0;
      const rnd = prng(seed);
      const builder = new DocumentBuilder(schema, rnd, ids);
      const { query, operation } = builder.document();
      const variables = builder.variables;
      const who = rnd();
      const key = who < 0.8 ? opts.adminKey : who < 0.95 ? opts.viewerKey : null;
      const overWs = key !== null && operation !== 'subscription' && rnd() < (opts.wsShare ?? 0.15);
      let status: number | null = null;
      let text: string;
      if (overWs) {
        const out = await wsOperation(socket(key), query, variables);
        text = JSON.stringify(out.closeCode !== undefined ? { errors: [{ message: out.closeReason, extensions: { code: 'BAD_USER_INPUT' } }] } : { data: out.data, errors: out.errors });
      } else {
        const accept = rnd() < 0.2 ? 'application/graphql-response+json' : 'application/json';
        const res = await fetch(`${opts.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept, ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        status = res.status;
        text = await res.text();
        report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      }
      report.requests++;
      const problems = replyProblems(schema, operation, status, text);
      try {
        const reply = JSON.parse(text) as Reply;
        collectIds(reply.data, ids);
        if (reply.data && !reply.errors?.length) report.succeeded[operation] = (report.succeeded[operation] ?? 0) + 1;
        for (const e of reply.errors ?? []) report.byCode[String(e.extensions?.code)] = (report.byCode[String(e.extensions?.code)] ?? 0) + 1;
      } catch {
        // counted as a problem above
      }
      for (const problem of problems) {
        report.findings.push({ seed, iteration: i, transport: overWs ? 'ws' : 'http', problem, query, variables, reply: text.slice(0, 2000) });
      }
    }
  } finally {
    await Promise.all([...sockets.values()].map((c) => c.dispose()));
  }
  return report;
}
