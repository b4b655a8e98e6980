import { Collection, Entity, Index, ManyToOne, OneToMany, OptionalProps, PrimaryKey, Property, type Ref, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, ObjectType } from 'type-graphql';
import { IPv4Resolver } from 'graphql-scalars';
import { PortRule } from './port-rule.js';
import { Router } from './router.js';
import { Node } from '../../graphql/node.js';

@ObjectType({ simpleResolvers: true, implements: Node, description: 'A virtual machine on the router LAN, reachable through its port rules.' })
@Entity({ tableName: 'vm' })
// the order of `vms` (keyset pagination: a page is one range scan of this index)
@Index({ properties: ['createdAt', 'id'] })
// capacity counts the addresses in LAN_POOL by their inet value: one range scan (observability/capacity.ts)
@Index({ name: 'vm_internal_ip_inet_index', expression: 'create index "vm_internal_ip_inet_index" on "vm" (("internal_ip"::inet))' })
// addresses are unique per router: two routers' LANs are separate networks
@Unique({ properties: ['router', 'internalIp'] })
export class Vm {
  [OptionalProps]?: 'createdAt' | 'updatedAt' | 'macAddress' | 'idempotencyKey';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field({ description: 'Unique, DNS-label-like name (lower-case letters, digits, hyphens; 1-63 characters).' })
  @Property({ type: 'text' })
  @Unique()
  name!: string;

  /** the router whose LAN it is on, and whose rules reach it (docs/operations.md "A fleet of routers") */
  @ManyToOne(() => Router, { ref: true, fieldName: 'router', updateRule: 'cascade', deleteRule: 'restrict' })
  @Index()
  router!: Ref<Router>;

  @Field(() => IPv4Resolver, { description: 'IPv4 address on the router LAN that the port rules translate to (unique per router).' })
  @Property({ type: 'text' })
  // the internalIp filters and lookups across routers
  @Index()
  internalIp!: string;

  @Field(() => String, { nullable: true, description: 'MAC address, if known (lower-case, colon-separated).' })
  @Property({ type: 'text', nullable: true })
  macAddress?: string | null;

  /** no longer written: idempotency keys live in idempotency_key (kept for replicas of the previous release during a rollout; drop later) */
  @Property({ type: 'text', nullable: true })
  @Unique()
  idempotencyKey?: string | null;

  @OneToMany(() => PortRule, (r) => r.vm)
  portRules = new Collection<PortRule>(this);

  @Field({ description: 'When the VM was provisioned.' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field({ description: 'When the VM or one of its rules last changed.' })
  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
