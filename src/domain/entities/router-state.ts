import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/** What the server knows of a router beyond its rules: whether its running config is saved. */
@Entity({ tableName: 'router_state' })
export class RouterState {
  [OptionalProps]?: 'unsavedSince' | 'saveError' | 'savedAt';

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
}
