import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { restoreSnapshot, takeSnapshot } from '../../changes/snapshots.js';
import { Role, Snapshot } from '../../domain/entities/index.js';
import * as check from '../../domain/validation.js';
import type { GraphQLContext } from '../context.js';
import { ROUTER_SCAN_COST } from '../../security/query-limits.js';
import { ROUTER_ARG } from './router-resolver.js';
import { routerNameArg } from '../../fleet/routers.js';

@Resolver(() => Snapshot)
export class SnapshotResolver {
  @Authorized(Role.VIEWER)
  @Query(() => [Snapshot], { description: 'Router configuration snapshots, newest first (at most SNAPSHOT_KEEP).' })
  async snapshots(@Ctx() { em }: GraphQLContext, @Arg('router', () => String, { nullable: true, description: 'Only this router\'s snapshots.' }) router: string | null): Promise<Snapshot[]> {
    return em.find(Snapshot, router == null ? {} : { router: routerNameArg('router', router) }, { orderBy: { createdAt: 'desc' } });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Snapshot, { complexity: ROUTER_SCAN_COST, description: 'Saves the whole router configuration now (`/config-file save`).' })
  async takeSnapshot(
    @Ctx() { app }: GraphQLContext,
    @Arg('reason', { description: 'Why (shown in `snapshots`); printable, at most 200 characters.' }) reason: string,
    @Arg('router', () => String, { nullable: true, description: ROUTER_ARG }) router: string | null,
  ): Promise<Snapshot> {
    const why = check.description('reason', reason) ?? 'on demand';
    return (await app.fleet.unit(routerNameArg('router', router) ?? app.fleet.home.name)).coordinator.submit(takeSnapshot(why));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Snapshot, { complexity: ROUTER_SCAN_COST,
    description:
      'Loads a snapshot back into the router (`/config-file load`, with commit-confirm where the router has it). The whole router configuration returns to the snapshot; the database is not changed, so run `syncReport` afterwards.',
  })
  async restoreSnapshot(@Ctx() { app, em }: GraphQLContext, @Arg('id', () => ID, { description: 'The snapshot to restore (into the router it was taken on).' }) id: string): Promise<Snapshot> {
    const snapshot = await (await app.fleet.forSnapshot(em, id)).coordinator.submit(restoreSnapshot(id));
    app.logger.warn({ snapshot: snapshot.id, file: snapshot.file }, 'router configuration restored from a snapshot');
    return snapshot;
  }
}
