import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/** What the server knows of a router beyond its rules: whether its running config is saved. */
@Entity({ tableName: 'router_state' })
export class RouterState {
  [OptionalProps]?: 'unsavedSince' | 'saveError' | 'savedAt' | 'saveOwedSince';

  /** ROUTER_NAME */
  @PrimaryKey({ type: 'text' })
  router!: string;

  /** since when a change is live on the router but not in its boot config (null: saved) */
  @Property({ type: 'timestamptz', nullable: true })
  unsavedSince?: Date | null;

  /** why the last save failed */
  @Property({ type: 'text', nullable: true })
  saveError?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  savedAt?: Date | null;

  /**
   * A committed batch's save not made yet: set in the batch's own transaction, cleared by the save
   * (either way). Still set with no batch running, it is a save a stopped process owed.
   */
  @Property({ type: 'timestamptz', nullable: true })
  saveOwedSince?: Date | null;
}
