// Relay-style connections with opaque keyset cursors, forwards (first/after) and backwards
// (last/before). A page is one indexed range scan: the order is a btree index's column list, and
// a cursor holds the last row's values of those columns at full precision, so "after the cursor"
// is a plain row comparison `(a, b) > ($1, $2)` that PostgreSQL answers from the index without
// sorting the table (docs/performance.md#pagination).
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { badInput } from '../domain/errors.js';

@ObjectType({ simpleResolvers: true, description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'More items follow this page (with `last`/`before`: items after `before` exist).' })
  hasNextPage!: boolean;

  @Field({ description: 'Items precede this page (with `first`/`after`: items up to `after` exist).' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'The first item\'s cursor: pass as `before` to fetch the page before this one; null when the page is empty.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'The last item\'s cursor: pass as `after` to fetch the next page; null when the page is empty.' })
  endCursor!: string | null;
}

export interface Page<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: PageInfo;
  totalCount: number;
}

export function connectionType<T extends object>(name: string, Node: ClassType<T>) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true, description: `One ${name} in a page.` })
  class Edge {
    @Field(() => Node, { description: `The ${name}.` })
    node!: T;

    @Field({ description: 'Opaque position of this item: pass as `after` or `before`.' })
    cursor!: string;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true, description: `A page of ${name} items.` })
  class Connection implements Page<T> {
    @Field(() => [Edge], { description: 'The items of this page, in order.' })
    edges!: Edge[];

    @Field(() => PageInfo, { description: 'Whether more precede and follow, and the cursors to ask for them.' })
    pageInfo!: PageInfo;

    @Field(() => Int, {
      description: 'Number of items in the whole list (with the filter, if any). The one field whose cost grows with the list: it is counted only when selected.',
    })
    totalCount!: number;
  }
  return Connection;
}

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

export function pageSize(n: number, arg: 'first' | 'last' = 'first'): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw badInput(arg, `must be between 1 and ${MAX_PAGE_SIZE}`);
  return n;
}

/** Relay's four arguments, as every connection field takes them. */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/**
 * One column of a keyset: how PostgreSQL hands it over in a cursor (`text`, an SQL expression of
 * the column giving its exact value as text), the type the cursor's text is cast back to, and
 * which texts are well-formed (checked before any SQL, so a forged cursor is BAD_USER_INPUT).
 */
export interface KeyColumn {
  column: string;
  text: string;
  cast: string;
  valid: (value: unknown) => boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A timestamptz at its full precision (microseconds), in UTC.
const MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export const uuidKey = (column: string): KeyColumn => ({ column, text: `${column}::text`, cast: 'uuid', valid: (v) => typeof v === 'string' && UUID.test(v) });
export const timeKey = (column: string): KeyColumn => ({
  column,
  // microseconds, as stored: a JavaScript Date (milliseconds) would merge rows of one millisecond
  text: `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
  cast: 'timestamptz',
  valid: (v) => typeof v === 'string' && MICROS.test(v),
});
export const intKey = (column: string): KeyColumn => ({ column, text: `${column}::text`, cast: 'int', valid: (v) => typeof v === 'string' && /^-?\d{1,10}$/.test(v) });

/**
 * A list's order: the column list of a btree index (unique as a whole, so every row has one
 * place), ascending or descending. `name` tags its cursors: one list's cursor is refused by another.
 */
export interface Keyset {
  name: string;
  key: KeyColumn[];
  order: 'asc' | 'desc';
}

/** What to read: the select list, the FROM clause, and the filter's conditions with their parameters. */
export interface PageSource {
  select: string;
  from: string;
  where: string[];
  params: unknown[];
}

export interface PageRequest {
  size: number;
  /** last/before: the rows nearest `before` (or the list's end) */
  backward: boolean;
  after: string[] | null;
  before: string[] | null;
}

export function encodeCursor(keyset: Keyset, values: readonly string[]): string {
  return Buffer.from(JSON.stringify([keyset.name, ...values])).toString('base64url');
}

/**
 * Cursors of this server carry the list's name and its key at full precision. Cursors of earlier
 * versions (a millisecond ISO time and an id, without a name) are refused like any foreign text:
 * compared at the column's precision they could repeat rows, so the client starts again.
 */
export function decodeCursor(keyset: Keyset, cursor: string, arg: 'after' | 'before'): string[] {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parts = null;
  }
  if (
    !Array.isArray(parts) ||
    parts.length !== keyset.key.length + 1 ||
    parts[0] !== keyset.name ||
    !keyset.key.every((k, i) => k.valid(parts[i + 1]))
  ) {
    throw badInput(arg, `not a cursor of this list returned by this server version (cursors of ${keyset.name} from before the upgrade are refused: start again without ${arg})`);
  }
  return parts.slice(1) as string[];
}

/**
 * Reads Relay's arguments. `first` has a default in the contract (`first: Int = 50`), so it only
 * counts as given when the query names it; naming both `first` and `last` is refused.
 */
export function pageRequest(keyset: Keyset, args: PageArgs, info?: GraphQLResolveInfo): PageRequest {
  const named = (arg: string) => !info || info.fieldNodes.some((n) => n.arguments?.some((a) => a.name.value === arg));
  const backward = args.last != null;
  if (backward && args.first != null && named('first')) throw badInput('last', 'pass first or last, not both');
  const size = backward ? pageSize(args.last!, 'last') : pageSize(args.first ?? DEFAULT_PAGE_SIZE, 'first');
  return {
    size,
    backward,
    after: args.after ? decodeCursor(keyset, args.after, 'after') : null,
    before: args.before ? decodeCursor(keyset, args.before, 'before') : null,
  };
}

interface Sql {
  sql: string;
  params: unknown[];
}

/** What runs a page's statements: a request's EntityManager, or PreparedReads (database/prepared-reads.ts). */
export interface SqlReader {
  execute<T extends object>(sql: string, params: unknown[]): Promise<T>;
}

/** `(a, b) <op> (?::ta, ?::tb)`: one row comparison, which a btree index on (a, b) serves. */
function compare(keyset: Keyset, op: string, values: readonly string[]): Sql {
  const cols = keyset.key.map((k) => k.column).join(', ');
  const marks = keyset.key.map((k) => `?::${k.cast}`).join(', ');
  return { sql: `(${cols}) ${op} (${marks})`, params: [...values] };
}

/** `op` for "comes after" in list order, and for "comes before". */
const laterOp = (keyset: Keyset) => (keyset.order === 'asc' ? '>' : '<');
const earlierOp = (keyset: Keyset) => (keyset.order === 'asc' ? '<' : '>');

function whereOf(conditions: Sql[]): Sql {
  return conditions.length === 0 ? { sql: '', params: [] } : { sql: ` where ${conditions.map((c) => c.sql).join(' and ')}`, params: conditions.flatMap((c) => c.params) };
}

/**
 * The page's SQL (pure; tests EXPLAIN exactly this): the filter, the cursor bounds, the index's
 * order (reversed for a backward page), and one row more than the page, which tells whether more
 * follow in the direction read. The last selected column is the row's cursor key as a JSON array.
 */
export function pageQuery(keyset: Keyset, source: PageSource, req: PageRequest): Sql {
  const conditions: Sql[] = source.where.length ? [{ sql: source.where.map((w) => `(${w})`).join(' and '), params: source.params }] : [];
  if (req.after) conditions.push(compare(keyset, laterOp(keyset), req.after));
  if (req.before) conditions.push(compare(keyset, earlierOp(keyset), req.before));
  const where = whereOf(conditions);
  const reversed = req.backward !== (keyset.order === 'desc');
  const dir = reversed ? 'desc' : 'asc';
  const order = keyset.key.map((k) => `${k.column} ${dir}`).join(', ');
  const cursorKey = `json_build_array(${keyset.key.map((k) => k.text).join(', ')}) as "_key"`;
  return { sql: `select ${source.select}, ${cursorKey} from ${source.from}${where.sql} order by ${order} limit ?`, params: [...where.params, req.size + 1] };
}

/**
 * Whether a row lies on the far side of the cursor the page started from (`after` for a forward
 * page: rows before the page exist; `before` for a backward one: rows after it exist). One indexed
 * probe: `exists` stops at the first row.
 */
export function beyondQuery(keyset: Keyset, source: PageSource, req: PageRequest): Sql | null {
  const from = req.backward ? req.before : req.after;
  if (!from) return null;
  const op = req.backward ? `${laterOp(keyset)}=` : `${earlierOp(keyset)}=`;
  const conditions: Sql[] = source.where.length ? [{ sql: source.where.map((w) => `(${w})`).join(' and '), params: source.params }] : [];
  conditions.push(compare(keyset, op, from));
  const where = whereOf(conditions);
  return { sql: `select exists (select 1 from ${source.from}${where.sql}) as "beyond"`, params: where.params };
}

export function countQuery(source: PageSource): Sql {
  const where = whereOf(source.where.length ? [{ sql: source.where.map((w) => `(${w})`).join(' and '), params: source.params }] : []);
  return { sql: `select count(*)::int as n from ${source.from}${where.sql}`, params: where.params };
}

/**
 * One page, from the database only, in at most three statements run side by side: the rows, the
 * probe beyond the starting cursor (only when there is one) and the count (only when selected).
 */
export async function keysetPage<Row>(
  em: SqlReader,
  keyset: Keyset,
  source: PageSource,
  req: PageRequest,
  withCount: boolean,
  parse: (row: Row) => Row = (r) => r,
): Promise<Page<Row>> {
  const page = pageQuery(keyset, source, req);
  const beyond = beyondQuery(keyset, source, req);
  const count = countQuery(source);
  const [rows, far, total] = await Promise.all([
    em.execute<(Row & { _key: string[] })[]>(page.sql, page.params),
    beyond ? em.execute<{ beyond: boolean }[]>(beyond.sql, beyond.params) : Promise.resolve([{ beyond: false }]),
    withCount ? em.execute<{ n: number }[]>(count.sql, count.params) : Promise.resolve([{ n: 0 }]),
  ]);
  const more = rows.length > req.size;
  const taken = rows.slice(0, req.size);
  if (req.backward) taken.reverse();
  const edges = taken.map((row) => {
    const key = row._key;
    // cleared, not deleted: `delete` turns each row into a dictionary-mode object, slow for every field read after
    (row as { _key?: unknown })._key = undefined;
    const node = parse(row);
    return {
      node,
      // encoded only when a client selects it (most pages ask for endCursor alone)
      get cursor() {
        return encodeCursor(keyset, key);
      },
    };
  });
  const first = edges.at(0);
  const last = edges.at(-1);
  return {
    edges,
    totalCount: total[0].n,
    pageInfo: {
      hasNextPage: req.backward ? far[0].beyond : more,
      hasPreviousPage: req.backward ? more : far[0].beyond,
      get startCursor() {
        return first ? first.cursor : null;
      },
      get endCursor() {
        return last ? last.cursor : null;
      },
    },
  };
}

/**
 * The names of the fields the operation selects at the field path `path` below this field: the
 * union over every occurrence (aliases, fragments and inline fragments included).
 */
export function fieldsAt(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  const found = new Set<string>();
  const visit = (set: SelectionSetNode | undefined, rest: readonly string[]): void => {
    for (const sel of set?.selections ?? []) {
      if (sel.kind !== Kind.FIELD) visit(sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : info.fragments[sel.name.value]?.selectionSet, rest);
      else if (rest.length === 0) found.add(sel.name.value);
      else if (sel.name.value === rest[0]) visit(sel.selectionSet, rest.slice(1));
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet, path);
  return found;
}

/** Whether the client selected `name` directly under this field (through fragments too). */
export function selects(info: GraphQLResolveInfo, name: string): boolean {
  return fieldsAt(info, []).has(name);
}
