import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { takeSnapshot } from '../../changes/snapshots.js';
import { isUuid } from '../../changes/vm-changes.js';
import { Role, Snapshot } from '../../domain/entities/index.js';
import { notFound, toClientError } from '../../domain/errors.js';
import * as check from '../../domain/validation.js';
import type { GraphQLContext } from '../context.js';

@Resolver(() => Snapshot)
export class SnapshotResolver {
  @Authorized(Role.VIEWER)
  @Query(() => [Snapshot], { description: 'Router configuration snapshots, newest first (at most SNAPSHOT_KEEP).' })
  async snapshots(@Ctx() { em }: GraphQLContext): Promise<Snapshot[]> {
    return em.find(Snapshot, {}, { orderBy: { createdAt: 'desc' } });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Snapshot, { description: 'Saves the whole router configuration now (`/config-file save`).' })
  async takeSnapshot(@Ctx() { app }: GraphQLContext, @Arg('reason', { description: 'Why (shown in `snapshots`); printable, at most 200 characters.' }) reason: string): Promise<Snapshot> {
    const why = check.description('reason', reason) ?? 'on demand';
    try {
      return await app.coordinator.exclusive((em) => takeSnapshot(em, app.router, app.config, why, null));
    } catch (e) {
      throw toClientError(e);
    }
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Snapshot, {
    description:
      'Loads a snapshot back into the router (`/config-file load`, with commit-confirm where the router has it). The whole router configuration returns to the snapshot; the database is not changed, so run `syncReport` afterwards.',
  })
  async restoreSnapshot(@Ctx() { app }: GraphQLContext, @Arg('id', () => ID, { description: 'The snapshot to restore.' }) id: string): Promise<Snapshot> {
    try {
      return await app.coordinator.exclusive(async (em) => {
        const snapshot = isUuid(id) ? await em.findOne(Snapshot, { id }) : null;
        if (!snapshot) throw notFound('snapshot', id);
        const caps = await app.router.capabilities();
        await app.router.loadConfigFile(snapshot.file, caps.commitConfirm ? { confirmMinutes: app.config.confirmMinutes } : {});
        // Not confirmed -> the router goes back to where it was by itself.
        if (caps.commitConfirm) await app.router.confirm();
        app.logger.warn({ snapshot: snapshot.id, file: snapshot.file }, 'router configuration restored from a snapshot');
        return snapshot;
      });
    } catch (e) {
      throw toClientError(e);
    }
  }
}
