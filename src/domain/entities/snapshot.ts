import { Entity, Index, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Node } from '../../graphql/node.js';

@ObjectType({ simpleResolvers: true, implements: Node, description: 'A copy of the whole router configuration saved on the router (`/config-file save`) before a critical operation or on demand.' })
@Entity({ tableName: 'snapshot' })
// the rotating files are each router's own
@Unique({ properties: ['router', 'slot'] })
export class Snapshot {
  [OptionalProps]?: 'createdAt' | 'operation';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** snapshots rotate through SNAPSHOT_KEEP files on the router: a new one reuses the oldest slot */
  @Field(() => Int, { description: 'Which of the SNAPSHOT_KEEP rotating files on the router holds it.' })
  @Property({ type: 'integer' })
  slot!: number;

  @Field({ description: 'The router it was saved on.' })
  @Property({ type: 'text' })
  router!: string;

  @Field({ description: 'Path of the saved configuration file on the router.' })
  @Property({ type: 'text' })
  file!: string;

  @Field({ description: 'Why it was taken: the critical operation, or the reason given on demand.' })
  @Property({ type: 'text' })
  reason!: string;

  @Field(() => String, { nullable: true, description: 'The operation it was taken before, if any.' })
  @Property({ type: 'text', nullable: true })
  operation?: string | null;

  @Field({ description: 'When it was saved.' })
  @Property({ type: 'timestamptz' })
  @Index()
  createdAt: Date = new Date();
}
