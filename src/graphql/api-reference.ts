// `npm run docs`: writes docs/api-reference.md from the schema, so the reference cannot drift from
// the API (test/unit/api-reference.test.ts fails when the committed file is stale).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  lexicographicSortSchema,
} from 'graphql';
import { getMetadataStorage } from 'type-graphql';
import { createAppPubSub } from '../changes/events.js';
import { projectRoot } from '../database/orm.js';
import { ERROR_CODE_DESCRIPTIONS } from '../domain/errors.js';
import { createSchema } from './schema.js';

export const API_REFERENCE_FILE = path.join(projectRoot, 'docs', 'api-reference.md');

export interface ApiReferenceInput {
  schema: GraphQLSchema;
  /** `Query.vms` -> the least role that may call it; absent = no key needed */
  roles: ReadonlyMap<string, string>;
  /** extensions.code -> what it means */
  errorCodes: Readonly<Record<string, string>>;
}

const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;

function ownTypes(schema: GraphQLSchema): GraphQLNamedType[] {
  return Object.values(schema.getTypeMap()).filter((t) => !t.name.startsWith('__') && !isSpecifiedScalarType(t));
}

/** Every type, field, argument, input field and enum value that has no description. */
export function missingDescriptions(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (what: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(what);
  };
  for (const type of ownTypes(schema)) {
    if (!(ROOTS as readonly string[]).includes(type.name)) check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name})`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) check(`${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
    }
  }
  return missing.sort();
}

// --- Markdown -------------------------------------------------------------------------------

const anchor = (name: string) => `#${name.toLowerCase()}`;

/** A cell of a Markdown table: one line, pipes escaped. */
function cell(text: string | null | undefined): string {
  return (text ?? '').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

/** `[Vm!]!` with the named type linked when it is one of ours. */
function typeRef(type: { toString(): string }, own: ReadonlySet<string>): string {
  const text = type.toString();
  const name = text.replace(/[[\]!]/g, '');
  return own.has(name) ? `[\`${text}\`](${anchor(name)})` : `\`${text}\``;
}

function defaultText(value: unknown): string {
  if (value === undefined) return '';
  return ` = ${JSON.stringify(value)}`;
}

function argumentTable(args: readonly (GraphQLArgument | GraphQLInputField)[], own: ReadonlySet<string>, heading: string): string[] {
  if (args.length === 0) return [];
  const lines = [`| ${heading} | Type | Description |`, '| --- | --- | --- |'];
  for (const a of args) {
    lines.push(`| \`${a.name}${defaultText(a.defaultValue).replace(/\|/g, '\\|')}\` | ${typeRef(a.type, own)} | ${cell(a.description)} |`);
  }
  return lines;
}

function operation(root: string, field: GraphQLField<unknown, unknown>, input: ApiReferenceInput, own: ReadonlySet<string>): string[] {
  const args = field.args.length ? `(${field.args.map((a) => `${a.name}: ${a.type}${defaultText(a.defaultValue)}`).join(', ')})` : '';
  const role = input.roles.get(`${root}.${field.name}`);
  // `Query.health`, not `health`: its anchor must not collide with the type Health's.
  const lines = [`### ${root}.${field.name}`, '', '```graphql', `${field.name}${args}: ${field.type}`, '```', ''];
  if (field.description) lines.push(field.description.trim(), '');
  lines.push(`Returns ${typeRef(field.type, own)}. ${role ? `Needs a key with the **${role}** role (or stronger).` : 'Needs no key.'}`, '');
  if (field.deprecationReason) lines.push(`**Deprecated**: ${field.deprecationReason}`, '');
  const table = argumentTable(field.args, own, 'Argument');
  if (table.length) lines.push(...table, '');
  return lines;
}

function namedType(type: GraphQLNamedType, own: ReadonlySet<string>): string[] {
  const lines = [`### ${type.name}`, ''];
  if (type.description) lines.push(type.description.trim(), '');
  if (isObjectType(type) || isInterfaceType(type)) {
    lines.push('| Field | Type | Description |', '| --- | --- | --- |');
    for (const f of Object.values(type.getFields())) {
      const args = f.args.length ? `(${f.args.map((a) => `${a.name}${defaultText(a.defaultValue)}`).join(', ')})` : '';
      const description = [f.description, ...f.args.map((a) => `\`${a.name}\`: ${a.description ?? ''}`)].filter(Boolean).join(' ');
      lines.push(`| \`${f.name}${args.replace(/\|/g, '\\|')}\` | ${typeRef(f.type, own)} | ${cell(description)} |`);
    }
  } else if (isInputObjectType(type)) {
    lines.push(...argumentTable(Object.values(type.getFields()), own, 'Field'));
  } else if (isEnumType(type)) {
    lines.push('| Value | Description |', '| --- | --- |');
    for (const v of type.getValues()) lines.push(`| \`${v.name}\` | ${cell(v.description)} |`);
  } else if (isUnionType(type)) {
    lines.push(`One of: ${type.getTypes().map((t) => typeRef(t, own)).join(', ')}.`);
  } else if (isScalarType(type) && type.specifiedByURL) {
    lines.push(`Specified by <${type.specifiedByURL}>.`);
  }
  lines.push('');
  return lines;
}

/** The whole reference as Markdown: a pure function of its input. */
export function renderApiReference(input: ApiReferenceInput): string {
  const schema = lexicographicSortSchema(input.schema);
  const types = ownTypes(schema);
  const own = new Set(types.map((t) => t.name));
  const lines: string[] = [
    '# API reference',
    '',
    '<!-- Generated from the schema by `npm run docs`; do not edit. -->',
    '',
    'The GraphQL API at `POST /graphql` (subscriptions: `graphql-transport-ws` on the same path;',
    'the IDE: open `/graphql` in a browser). Send a key as `Authorization: Bearer <key>` (or',
    '`X-API-Key`); on a WebSocket as `connectionParams.authorization`. Roles are ordered',
    '**VIEWER** < **OPERATOR** < **ADMIN**. Worked examples: [EXAMPLES.md](EXAMPLES.md).',
    '',
    '- [Queries](#queries) · [Mutations](#mutations) · [Subscriptions](#subscriptions) · [Errors](#errors) · [Types](#types)',
    '',
  ];
  const sections: Array<[string, string]> = [['Queries', 'Query'], ['Mutations', 'Mutation'], ['Subscriptions', 'Subscription']];
  for (const [title, root] of sections) {
    const type = schema.getType(root);
    if (!type || !isObjectType(type)) continue;
    lines.push(`## ${title}`, '');
    for (const field of Object.values(type.getFields())) lines.push(...operation(root, field, input, own));
  }

  lines.push(
    '## Idempotency',
    '',
    'Every create and apply takes an `idempotencyKey` (`provisionVm` in its input; `addPortRule`, `applyVm` and',
    '`createApiKey` as an argument): 1-200 printable ASCII characters, chosen by the client, e.g. a job id. Retrying with',
    'the same key and the same input (compared as a hash of the normalized input) returns the first result and',
    'changes nothing, on the router or in the database; the same key with another input, or on another mutation, is a',
    '`CONFLICT` whose message and `extensions.idempotencyKey` name the key. Keys are global, not per API key. The',
    "key is written in the same database transaction as its change, so a key exists exactly when its change committed:",
    'a retry after a failed or cut-off request either gets the first result or does the change once. Two requests with',
    'the same new key at the same time apply once (one replays the other; a `CONFLICT` saying the key is in use means',
    'retry). A key is kept for `IDEMPOTENCY_RETENTION_HOURS` (default 24) and forgotten after that: it may then be used',
    'again. A retried `createApiKey` returns the same API key with a new secret: only hashes are stored, so the secret',
    'in the lost reply cannot be shown again, and it stops working.',
    '',
    '## Dry runs',
    '',
    'Every mutation that changes the router takes `dryRun: Boolean = false`. A dry run goes through the same change set',
    'and the same planning as the real call, in a batch of its own, and stops before anything is sent: the database',
    'transaction is rolled back and the router is not written. `applyVm`, `reconcile` and `importRouterRules` answer with',
    'the plan in their result. The others keep their return type: they answer with the object as the change would leave',
    'it (read inside the rolled-back transaction; the ids of would-be-new objects are not kept), and the exact router',
    'commands are in the response\'s `extensions.dryRun`, one entry per dry-run field of the operation:',
    '',
    '```json',
    '{"data":{"removePortRule":"2f1a…"},',
    ' "extensions":{"dryRun":[{"path":["removePortRule"],"commands":[{"op":"delete","path":["nat","destination","rule","10000"]}]}]}}',
    '```',
    '',
    '`path` is the field\'s response path (its alias, when it has one); `commands` is empty when the change would send',
    'nothing. The real call then sends exactly these commands, unless something else changed the router or the',
    'database in between.',
    '',
    '## Errors',
    '',
    'Every error carries `extensions.code` from this closed set, and an error changes nothing. Other',
    'extensions add detail (`field` for bad input, `routerMessage` for a rejection). Anything else is',
    'masked as `INTERNAL_SERVER_ERROR` and logged with its details on the server. Two codes of the',
    'automatic persisted queries protocol, `PERSISTED_QUERY_NOT_FOUND` and `PERSISTED_QUERY_NOT_SUPPORTED`,',
    'are replies an APQ client link acts on, not failures ([security.md](security.md#persisted-queries)).',
    '',
    '| `extensions.code` | Meaning |',
    '| --- | --- |',
  );
  for (const [code, meaning] of Object.entries(input.errorCodes)) lines.push(`| \`${code}\` | ${cell(meaning)} |`);
  lines.push('');

  lines.push('## Types', '');
  for (const type of types) {
    if ((ROOTS as readonly string[]).includes(type.name)) continue;
    lines.push(...namedType(type, own));
  }
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** `Query.vms` -> role, from type-graphql's @Authorized metadata (available once a schema is built). */
export function operationRoles(): Map<string, string> {
  const storage = getMetadataStorage();
  const roles = new Map<string, string>();
  const groups: Array<[string, Array<{ schemaName: string; roles?: unknown[] }>]> = [
    ['Query', storage.queries],
    ['Mutation', storage.mutations],
    ['Subscription', storage.subscriptions],
  ];
  for (const [root, list] of groups) {
    // @Authorized() with no role means any valid key, which is VIEWER (auth.ts).
    for (const r of list) if (r.roles) roles.set(`${root}.${r.schemaName}`, String(r.roles[0] ?? 'VIEWER'));
  }
  return roles;
}

export async function buildApiReference(): Promise<string> {
  const schema = await createSchema(createAppPubSub());
  return renderApiReference({ schema, roles: operationRoles(), errorCodes: ERROR_CODE_DESCRIPTIONS });
}

if (require.main === module) {
  buildApiReference().then(
    (text) => {
      writeFileSync(API_REFERENCE_FILE, text);
      console.log(`wrote ${path.relative(process.cwd(), API_REFERENCE_FILE) || API_REFERENCE_FILE}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
