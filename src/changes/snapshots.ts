// Router configuration snapshots: `/config-file save` into one of SNAPSHOT_KEEP rotating files on
// the router (so the router's disk use is bounded), recorded in the database.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { Snapshot } from '../domain/entities/index.js';
import type { RouterApi } from '../vyos/types.js';

export const SNAPSHOT_DIR = '/config';

/** The next slot: one past the newest, wrapping at `keep` (pure). */
export function nextSlot(newestSlot: number | null, keep: number): number {
  return newestSlot === null ? 0 : (newestSlot + 1) % keep;
}

export function snapshotFile(slot: number): string {
  return `${SNAPSHOT_DIR}/vyos-vm-api-snapshot-${slot}.config`;
}

/**
 * Saves the running config to the next slot and records it in `em` (the caller's transaction, so
 * a batch's snapshot row commits with the batch). The oldest record in that slot is replaced.
 */
export async function takeSnapshot(em: EntityManager, router: RouterApi, config: Config, reason: string, operation: string | null): Promise<Snapshot> {
  const [newest] = await em.find(Snapshot, {}, { orderBy: { createdAt: 'desc' }, limit: 1 });
  const slot = nextSlot(newest ? newest.slot % config.snapshotKeep : null, config.snapshotKeep);
  const file = snapshotFile(slot);
  await router.saveConfigFile(file);
  await em.nativeDelete(Snapshot, { $or: [{ slot }, { slot: { $gte: config.snapshotKeep } }] });
  const snapshot = em.create(Snapshot, { slot, file, reason, operation });
  await em.flush();
  return snapshot;
}
