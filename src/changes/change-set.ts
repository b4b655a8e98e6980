// What a client request hands the coordinator: database edits plus what the touched rules must
// look like on the router. The runner (transaction.ts) carries change sets through the stages.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Snapshot } from '../domain/entities/index.js';
import type { NatSyntax, RouterCommand, RouterRule } from '../vyos/types.js';
import type { RuleIntent } from './change-plan.js';
import type { RouterView } from './router-picture.js';
import type { JournalRow } from './change-store.js';

export interface ChangeContext {
  /** the change set's savepoint inside the batch transaction */
  em: EntityManager;
  config: Config;
  /**
   * The router's NAT destination rules: read whole in this batch for a change set that asks
   * (`wholePicture`), otherwise the runner's picture, which the touched-rule read checks before
   * anything is sent (router-picture.ts)
   */
  routerRules: ReadonlyMap<number, RouterRule>;
  /** the same rules, indexed for allocation */
  router: RouterView;
  /**
   * Rule numbers whose entry in the picture made allocation pass a value by: the runner reads
   * them with the touched rules, so a stale entry is corrected and the value is not lost
   */
  avoided: Set<number>;
  /** the router's NAT syntax, for change sets that plan commands themselves */
  syntax: NatSyntax;
}

export interface Prepared<T> {
  intents: RuleIntent[];
  result: T;
  /** instead of NAT commands, load this saved config file into the router (restoreSnapshot) */
  loadFile?: string;
}

/** One client request's change. */
export interface ChangeSet<T> {
  operation: string;
  /** take a router config snapshot before the batch that carries it (decommission, overridden reconcile, import) */
  critical?: boolean;
  /** take a snapshot with this reason even when nothing is sent (takeSnapshot) */
  snapshotReason?: string;
  /** save the running config even when nothing is sent (the retry of a failed save) */
  save?: boolean;
  /** plans against the whole rule set, read in this batch (reconcile, import, recovery) */
  wholePicture?: boolean;
  /** runs in a batch of its own (dry runs, whole-config loads) */
  isolated?: boolean;
  /** stop after planning: the database is rolled back and the router is not written */
  dryRun?: boolean;
  /** this change set settles an unfinished journal entry (recovery, a failed undo) */
  resumes?: JournalRow;
  prepare(ctx: ChangeContext): Promise<Prepared<T>>;
  /** the value the client gets, once the batch is through (default: the prepared result) */
  complete?(prepared: T, batch: { snapshot: Snapshot | null; commands: RouterCommand[] }): T;
}
