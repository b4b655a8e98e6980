import { Entity, Enum, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import type { RouterCommand } from '../../vyos/types.js';

/** Journal states (design.md "Crash safety"): each is written in its own short transaction. */
export enum OperationState {
  PENDING = 'PENDING',
  ROUTER_COMMITTED = 'ROUTER_COMMITTED',
  CONFIRMED = 'CONFIRMED',
  DONE = 'DONE',
  ROLLED_BACK = 'ROLLED_BACK',
  ROLLBACK_FAILED = 'ROLLBACK_FAILED',
  /** the change failed and the router is not yet back as the database says: resumed until it is */
  UNDO_PENDING = 'UNDO_PENDING',
}

export const FINISHED_STATES = [OperationState.DONE, OperationState.ROLLED_BACK, OperationState.ROLLBACK_FAILED];

@Entity({ tableName: 'operation' })
export class Operation {
  [OptionalProps]?: 'createdAt' | 'updatedAt' | 'confirmDeadline' | 'error' | 'inverse';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** the router the batch went to: each router's journal is its own (recovery resumes per router) */
  @Property({ type: 'text' })
  @Index()
  router!: string;

  /** operation names of the batch, comma-separated */
  @Property({ type: 'text' })
  operation!: string;

  @Enum({ items: () => OperationState })
  @Index()
  state!: OperationState;

  /** the batch as sent to the router */
  @Property({ type: 'json' })
  commands: RouterCommand[] = [];

  /** what undoes it, computed from the router state read before the batch */
  @Property({ type: 'json' })
  inverse: RouterCommand[] = [];

  /** when an unconfirmed commit-confirm reverts on the router by itself */
  @Property({ type: 'timestamptz', nullable: true })
  confirmDeadline?: Date | null;

  @Property({ type: 'text', nullable: true })
  error?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
