import { Entity, Enum, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { RouterCommand } from '../../vyos/types.js';
import { Node } from '../../graphql/node.js';

export enum RollbackStage {
  ROUTER_COMMIT = 'ROUTER_COMMIT',
  ROUTER_VERIFY = 'ROUTER_VERIFY',
  ROUTER_CONFIRM = 'ROUTER_CONFIRM',
  DATABASE_COMMIT = 'DATABASE_COMMIT',
}
registerEnumType(RollbackStage, {
  name: 'RollbackStage',
  description: 'Where a change failed.',
  valuesConfig: {
    ROUTER_COMMIT: { description: 'The router refused the batch, or could not be reached to commit it.' },
    ROUTER_VERIFY: { description: 'The router committed, but reading the rules back did not show what was intended.' },
    ROUTER_CONFIRM: { description: 'The commit-confirm could not be confirmed.' },
    DATABASE_COMMIT: { description: 'The router was changed and confirmed, but the database commit failed.' },
  },
});

export enum RollbackOutcome {
  ROLLED_BACK = 'ROLLED_BACK',
  AUTO_REVERTED = 'AUTO_REVERTED',
  ROLLBACK_FAILED = 'ROLLBACK_FAILED',
}
registerEnumType(RollbackOutcome, {
  name: 'RollbackOutcome',
  description: 'How the undo ended.',
  valuesConfig: {
    ROLLED_BACK: { description: 'Database and router are both as they were before the change.' },
    AUTO_REVERTED: { description: 'The router reverted the unconfirmed commit by itself; the database never committed.' },
    ROLLBACK_FAILED: { description: 'The undo on the router failed: the affected rules are marked for repair (see syncReport).' },
  },
});

// Lower-case values: the wire strings stay what they were when `op` was a String.
export enum RouterCommandOp {
  set = 'set',
  delete = 'delete',
  comment = 'comment',
}
registerEnumType(RouterCommandOp, {
  name: 'RouterCommandOp',
  description: 'What a router command does (the VyOS /configure `op`).',
  valuesConfig: {
    set: { description: 'Creates the path (with its value).' },
    delete: { description: 'Removes the path and everything under it.' },
    comment: { description: 'Attaches a comment to the path.' },
  },
});

@ObjectType('RouterCommand', { simpleResolvers: true, description: 'One router command as sent to /configure; a value is the last path element.' })
export class RouterCommandType implements RouterCommand {
  @Field(() => RouterCommandOp, { description: '`set`, `delete` or `comment`.' })
  op!: 'set' | 'delete' | 'comment';

  @Field(() => [String], { description: 'The configuration path, e.g. `["nat", "destination", "rule", "10000", "translation", "port", "80"]`.' })
  path!: string[];
}

@ObjectType('RollbackEvent', { simpleResolvers: true, implements: Node, description: 'A change that was undone, and how.' })
@Entity({ tableName: 'rollback_event' })
// the order of `rollbackEvents`, newest first (read backwards); also serves any range on `at`
@Index({ properties: ['at', 'id'] })
export class RollbackEvent {
  [OptionalProps]?: 'at' | 'commands';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field({ description: 'When the rollback finished.' })
  @Property({ type: 'timestamptz' })
  at: Date = new Date();

  @Field({ description: 'The router the change was for.' })
  @Property({ type: 'text' })
  router!: string;

  @Field({ description: 'The operation(s) that were undone, e.g. `provisionVm`.' })
  @Property({ type: 'text' })
  operation!: string;

  @Field(() => RollbackStage, { description: 'The step of the change that failed.' })
  @Enum({ items: () => RollbackStage })
  stage!: RollbackStage;

  @Field({ description: 'Why the change failed (the router message when it has one).' })
  @Property({ type: 'text' })
  reason!: string;

  @Field(() => RollbackOutcome, { description: 'How the undo ended: whether the router is back where it was.' })
  @Enum({ items: () => RollbackOutcome })
  outcome!: RollbackOutcome;

  @Field(() => [RouterCommandType], { description: 'The router commands that were undone (or discarded).' })
  @Property({ type: 'json' })
  commands: RouterCommand[] = [];
}
