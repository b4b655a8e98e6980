import { Arg, Authorized, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { RollbackEvent, Role } from '../../domain/entities/index.js';
import { Topic, type RollbackEventPayload } from '../../changes/events.js';
import { connectionType, keysetPage } from '../connection.js';
import type { GraphQLContext } from '../context.js';

export const RollbackEventConnection = connectionType('RollbackEvent', RollbackEvent);

@Resolver(() => RollbackEvent)
export class RollbackResolver {
  @Authorized(Role.VIEWER)
  @Query(() => RollbackEventConnection, { description: 'Changes that were undone, newest first.' })
  async rollbackEvents(
    @Ctx() { em }: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'Page size, 1-200.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'The `endCursor` of the previous page.' }) after?: string | null,
  ) {
    return keysetPage(em, RollbackEvent, 'at', 'desc', first, after);
  }

  @Authorized(Role.VIEWER)
  @Subscription(() => RollbackEvent, { topics: Topic.ROLLBACK_EVENT, name: 'rollbackEvents', description: 'Every rollback, as it is recorded.' })
  rollbackEventStream(@Root() event: RollbackEventPayload): RollbackEventPayload {
    return { ...event, at: new Date(event.at) };
  }
}
