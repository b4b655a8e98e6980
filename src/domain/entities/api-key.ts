import { Entity, Enum, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Node } from '../../graphql/node.js';

export enum Role {
  VIEWER = 'VIEWER',
  OPERATOR = 'OPERATOR',
  ADMIN = 'ADMIN',
}
registerEnumType(Role, {
  name: 'Role',
  description: 'What an API key may do. Each role includes the ones before it.',
  valuesConfig: {
    VIEWER: { description: 'Read queries and subscriptions.' },
    OPERATOR: { description: 'Also provision and change VMs and port rules.' },
    ADMIN: { description: 'Also reconcile the router and manage API keys.' },
  },
});

const rank: Record<Role, number> = { VIEWER: 1, OPERATOR: 2, ADMIN: 3 };
export const roleAllows = (has: Role, needs: Role) => rank[has] >= rank[needs];

@Entity({ tableName: 'api_key' })
@ObjectType({ simpleResolvers: true, implements: Node, description: 'An API key, without its secret (the secret is shown once, by createApiKey).' })
export class ApiKey {
  [OptionalProps]?: 'createdAt' | 'expiresAt' | 'revokedAt' | 'writesPerMinute' | 'readsPerMinute';

  @Field(() => ID, { description: 'Stable identifier (a UUID); not the secret.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field({ description: 'What the key is for (who holds it); shown in the audit log.' })
  @Property({ type: 'text' })
  name!: string;

  @Field(() => Role, { description: 'What the key may do.' })
  @Enum({ items: () => Role })
  role!: Role;

  /** public lookup part of the key (`vmk_<prefix>_<secret>`); the secret is only stored hashed */
  @Field({ description: 'Public part of the key (`vmk_<prefix>_…`), to recognise it without the secret.' })
  @Property({ type: 'text' })
  @Unique()
  prefix!: string;

  /** sha256 of the whole key, hex */
  @Property({ type: 'text' })
  secretHash!: string;

  @Field({ description: 'When the key was created.' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true, description: 'After this instant the key is refused; null = never expires.' })
  @Property({ type: 'timestamptz', nullable: true })
  expiresAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the key was revoked (refused from then on); null = not revoked.' })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'This key\'s own write budget, in cost units a minute (a mutation is one unit; see docs/security.md); 0 = no limit; null = the server\'s RATE_LIMIT_WRITES_PER_MINUTE.' })
  @Property({ type: 'integer', nullable: true })
  writesPerMinute?: number | null;

  @Field(() => Int, { nullable: true, description: 'This key\'s own read budget, in cost units a minute (an ordinary query is one unit; see docs/security.md); 0 = no limit; null = the server\'s RATE_LIMIT_READS_PER_MINUTE.' })
  @Property({ type: 'integer', nullable: true })
  readsPerMinute?: number | null;
}
