// A dry run of any change set: the same prepare and the same planning stage as the real run, in a
// batch of its own (so the batch's commands are this change's alone); the runner stops after PLAN
// and rolls the database back (transaction.ts). What the client sees of the would-be state is read
// inside the transaction, before that rollback.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RouterCommand } from '../vyos/types.js';
import type { ChangeSet } from './change-set.js';

export interface DryRunResult<T, V> {
  /** the change set's own result (ids of would-be-new objects are the generated ones) */
  result: T;
  /** what `materialize` read in the transaction: the objects as they would be */
  value: V;
  /** the exact commands the change would send in one commit (empty: it would send nothing) */
  commands: RouterCommand[];
}

export function dryRunOf<T, V>(set: ChangeSet<T>, materialize: (em: EntityManager, result: T) => Promise<V>): ChangeSet<DryRunResult<T, V>> {
  return {
    operation: set.operation,
    critical: set.critical,
    isolated: true,
    dryRun: true,
    async prepare(ctx) {
      const prepared = await set.prepare(ctx);
      const value = await materialize(ctx.em, prepared.result);
      return { ...prepared, result: { result: prepared.result, value, commands: [] } };
    },
    complete: (r, batch) => ({ ...r, result: set.complete ? set.complete(r.result, batch) : r.result, commands: batch.commands }),
  };
}
