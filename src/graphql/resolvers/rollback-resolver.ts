import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, Info, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { RollbackEvent, Role } from '../../domain/entities/index.js';
import { Topic, type RollbackEventPayload } from '../../changes/events.js';
import { ChangeOperation, changeOperations } from '../change-operation.js';
import { connectionType, pageRequest, selects } from '../connection.js';
import type { GraphQLContext } from '../context.js';
import { ROLLBACK_KEYSET, rollbackEventPage } from '../read-pages.js';

export const RollbackEventConnection = connectionType('RollbackEvent', RollbackEvent);

@Resolver(() => RollbackEvent)
export class RollbackResolver {
  @Authorized(Role.VIEWER)
  @Query(() => RollbackEventConnection, { description: 'Changes that were undone, newest first (forwards with first/after, backwards with last/before).' })
  async rollbackEvents(
    @Ctx() { em }: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'Page size from the newest (or from `after`), 1-200; not with `last`.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'The `endCursor` of the previous page: the older events after it.' }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page size from the oldest (or from `before`), 1-200: the events nearest it, still newest first.' }) last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'The `startCursor` of a page: the newer events before it.' }) before?: string | null,
  ) {
    return rollbackEventPage(em, pageRequest(ROLLBACK_KEYSET, { first, after, last, before }, info), selects(info, 'totalCount'));
  }

  @FieldResolver(() => [ChangeOperation], { description: 'The names in `operation`, as enum values, each once, in order of first appearance.' })
  operations(@Root() event: { operation: string }): ChangeOperation[] {
    return changeOperations(event.operation);
  }

  @Authorized(Role.VIEWER)
  @Subscription(() => RollbackEvent, { topics: Topic.ROLLBACK_EVENT, name: 'rollbackEvents', description: 'Every rollback, as it is recorded.' })
  rollbackEventStream(@Root() event: RollbackEventPayload): RollbackEventPayload {
    return { ...event, at: new Date(event.at) };
  }
}
