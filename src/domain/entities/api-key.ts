import { Entity, Enum, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { registerEnumType } from 'type-graphql';

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
export class ApiKey {
  [OptionalProps]?: 'createdAt' | 'expiresAt' | 'revokedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  name!: string;

  @Enum({ items: () => Role })
  role!: Role;

  /** public lookup part of the key (`vmk_<prefix>_<secret>`); the secret is only stored hashed */
  @Property({ type: 'text' })
  @Unique()
  prefix!: string;

  /** sha256 of the whole key, hex */
  @Property({ type: 'text' })
  secretHash!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  expiresAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;
}
