import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, type Ref, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PortScalar } from '../../graphql/scalars.js';
import { Vm } from './vm.js';
import { Protocol, claims } from './protocol.js';
import { Node } from '../../graphql/node.js';

@ObjectType({ implements: Node, description: 'One port forward: a NAT destination rule on the router.' })
@Entity({ tableName: 'port_rule' })
// applyVm matches a VM's rules by name: unique per VM (NULLs, unnamed rules, never collide).
@Unique({ properties: ['vm', 'name'] })
export class PortRule {
  [OptionalProps]?: 'createdAt' | 'updatedAt' | 'name' | 'sourceAddress' | 'description' | 'enabled' | 'tcpPort' | 'udpPort' | 'needsRepair';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Vm, { ref: true, deleteRule: 'cascade' })
  @Index()
  vm!: Ref<Vm>;

  @Field(() => String, { nullable: true, description: 'Stable name of the rule within its VM (unique per VM), the key applyVm matches rules by; null for a rule created without one.' })
  @Property({ type: 'text', nullable: true })
  name?: string | null;

  @Field(() => Int, { description: 'The VyOS `nat destination rule` number, allocated from NAT_RULE_RANGE.' })
  @Property({ type: 'integer' })
  @Unique()
  ruleNumber!: number;

  @Field(() => Protocol, { description: 'Which transport the rule forwards.' })
  @Enum({ items: () => Protocol })
  protocol!: Protocol;

  @Field(() => PortScalar, { description: 'Port on the WAN interface that is forwarded.' })
  @Property({ type: 'integer' })
  @Index() // the externalPort filters of vms and portRules
  externalPort!: number;

  @Field(() => PortScalar, { description: 'Port on the VM that traffic is translated to.' })
  @Property({ type: 'integer' })
  internalPort!: number;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect; null means anyone.' })
  @Property({ type: 'text', nullable: true })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Free text shown on the router (at most 200 characters).' })
  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Field({ description: 'A disabled rule stays on the router with `disable`.' })
  @Property({ type: 'boolean' })
  enabled: boolean = true;

  // The external port as claimed per transport, so unique indexes enforce "TCP_UDP overlaps both".
  @Property({ type: 'integer', nullable: true })
  @Unique()
  tcpPort?: number | null;

  @Property({ type: 'integer', nullable: true })
  @Unique()
  udpPort?: number | null;

  /** set when an undo on the router failed: the router may not match this row (syncReport shows it) */
  @Field({ description: 'True after an undo on the router failed: the router may not match this rule until a change to it or a reconcile repairs it.' })
  @Property({ type: 'boolean' })
  needsRepair: boolean = false;

  @Field({ description: 'When the rule was created.' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field({ description: 'When the rule last changed.' })
  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  /** Keeps the per-transport claims in step with protocol and external port. */
  claimPorts(): void {
    const c = claims(this.protocol);
    this.tcpPort = c.tcp ? this.externalPort : null;
    this.udpPort = c.udp ? this.externalPort : null;
  }
}
