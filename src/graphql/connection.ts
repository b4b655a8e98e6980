// Relay-style connections with opaque keyset cursors.
import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/postgresql';
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { badInput } from '../domain/errors.js';

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'More items follow this page.' })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to fetch the next page.' })
  endCursor!: string | null;
}

export interface Page<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: PageInfo;
  totalCount: number;
}

export function connectionType<T extends object>(name: string, Node: ClassType<T>) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a page.` })
  class Edge {
    @Field(() => Node, { description: `The ${name}.` })
    node!: T;

    @Field({ description: 'Opaque position of this item.' })
    cursor!: string;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class Connection implements Page<T> {
    @Field(() => [Edge], { description: 'The items of this page, in order.' })
    edges!: Edge[];

    @Field(() => PageInfo, { description: 'Whether more follow, and the cursor to ask for them.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Number of items in the whole list.' })
    totalCount!: number;
  }
  return Connection;
}

export const MAX_PAGE_SIZE = 200;

export function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw badInput('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  return first;
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('shape');
    return { at: date, id };
  } catch {
    throw badInput('after', 'not a cursor returned by this API');
  }
}

/** Builds a page from `first + 1` rows fetched in order. */
export function toPage<T>(rows: T[], first: number, totalCount: number, key: (row: T) => { at: Date; id: string }): Page<T> {
  const nodes = rows.slice(0, first);
  // Cursors are encoded only when a client selects them (most pages ask for endCursor alone).
  const cursorOf = (node: T) => {
    const k = key(node);
    return encodeCursor(k.at, k.id);
  };
  const edges = nodes.map((node) => ({
    node,
    get cursor() {
      return cursorOf(node);
    },
  }));
  const last = nodes.at(-1);
  return {
    edges,
    totalCount,
    pageInfo: {
      hasNextPage: rows.length > first,
      get endCursor() {
        return last === undefined ? null : cursorOf(last);
      },
    },
  };
}

/**
 * One page of `entity` in (time, id) order, from the database only: `first + 1` rows tell
 * whether another page follows, and the cursor is the last row's (time, id).
 */
export async function keysetPage<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  timeField: keyof T & string,
  order: 'asc' | 'desc',
  first: number | null,
  after: string | null | undefined,
): Promise<Page<T>> {
  const n = pageSize(first ?? 50);
  const past = order === 'asc' ? '$gt' : '$lt';
  const where = after
    ? (({ at, id }) => ({ $or: [{ [timeField]: { [past]: at } }, { [timeField]: at, id: { [past]: id } }] }))(decodeCursor(after))
    : {};
  const [rows, total] = await Promise.all([
    em.find(entity, where as FilterQuery<T>, { orderBy: { [timeField]: order, id: order } as never, limit: n + 1 }),
    em.count(entity),
  ]);
  return toPage(rows as T[], n, total, (row) => ({ at: row[timeField] as Date, id: row.id }));
}

/** Whether the client selected `name` directly under this field (through fragments too). */
export function selects(info: GraphQLResolveInfo, name: string): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    !!set &&
    set.selections.some((sel) =>
      sel.kind === Kind.FIELD ? sel.name.value === name : sel.kind === Kind.INLINE_FRAGMENT ? visit(sel.selectionSet) : visit(info.fragments[sel.name.value]?.selectionSet),
    );
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
