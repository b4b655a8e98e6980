// Router configuration snapshots: `/config-file save` into one of SNAPSHOT_KEEP rotating files on
// the router (so the router's disk use is bounded), recorded in the database. Taking and
// restoring one are change sets: the runner's snapshot and router-commit stages do the I/O.
import { Snapshot } from '../domain/entities/index.js';
import { notFound } from '../domain/errors.js';
import type { ChangeSet } from './change-set.js';
import { isUuid } from './vm-changes.js';

export const SNAPSHOT_DIR = '/config';

export function snapshotFile(slot: number): string {
  return `${SNAPSHOT_DIR}/vyos-vm-api-snapshot-${slot}.config`;
}

/** Saves the whole router configuration now; the snapshot row commits with the batch. */
export function takeSnapshot(reason: string): ChangeSet<Snapshot> {
  return {
    operation: 'takeSnapshot',
    snapshotReason: reason,
    async prepare() {
      return { intents: [], result: null as unknown as Snapshot };
    },
    complete: (_result, batch) => batch.snapshot!,
  };
}

/**
 * Loads a snapshot back into the router (`/config-file load`, commit-confirmed where the router
 * has it). The database is not changed: syncReport shows what differs afterwards.
 */
export function restoreSnapshot(id: string): ChangeSet<Snapshot> {
  return {
    operation: 'restoreSnapshot',
    isolated: true,
    wholePicture: true,
    async prepare({ em }) {
      const snapshot = isUuid(id) ? await em.findOne(Snapshot, { id }) : null;
      if (!snapshot) throw notFound('snapshot', id);
      return { intents: [], result: snapshot, loadFile: snapshot.file };
    },
  };
}
