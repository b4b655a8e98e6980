import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, type Ref, Unique } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PortScalar } from '../../graphql/scalars.js';
import { Vm } from './vm.js';
import { Router } from './router.js';
import { Protocol, claims } from './protocol.js';
import { Node } from '../../graphql/node.js';

/**
 * The SQL range of ports a rule claims on one transport's column (the exclusion constraints'
 * expression, so queries written with it use their index). NULL when the rule does not claim the
 * transport: int4range(NULL, NULL) would be the unbounded range, overlapping everything.
 */
export function claimRange(column: 'tcp_port' | 'udp_port', alias?: string): string {
  const c = alias ? `${alias}."${column}"` : `"${column}"`;
  const n = alias ? `${alias}."port_count"` : '"port_count"';
  return `(case when ${c} is not null then int4range(${c}, ${c} + ${n}) end)`;
}

@ObjectType({ simpleResolvers: true, implements: Node, description: 'One port forward: a NAT destination rule on the router.' })
@Entity({ tableName: 'port_rule' })
// applyVm matches a VM's rules by name: unique per VM (NULLs, unnamed rules, never collide).
@Unique({ properties: ['vm', 'name'] })
// Rule numbers and port claims are the router's: unique per router (btree_gist gives GiST the
// text equality the exclusion constraints pair with the ranges' overlap).
@Unique({ properties: ['router', 'ruleNumber'] })
// `portRules` across the fleet: by rule number, then id (keyset pagination, read-pages.ts)
@Index({ properties: ['ruleNumber', 'id'] })
@Unique({ properties: ['router', 'tcpPort'] })
@Unique({ properties: ['router', 'udpPort'] })
// A rule claims externalPort .. externalPort + portCount - 1 per transport: two rules' claims must
// not overlap, which the unique start ports alone cannot promise for ranges. Range types have a
// built-in GiST operator class, so no extension is needed; allocation probes use the same index.
@Index({ name: 'port_rule_tcp_ports_excl', expression: `alter table "port_rule" add constraint "port_rule_tcp_ports_excl" exclude using gist ("router" with =, ${claimRange('tcp_port')} with &&)` })
@Index({ name: 'port_rule_udp_ports_excl', expression: `alter table "port_rule" add constraint "port_rule_udp_ports_excl" exclude using gist ("router" with =, ${claimRange('udp_port')} with &&)` })
export class PortRule {
  [OptionalProps]?: 'createdAt' | 'updatedAt' | 'name' | 'sourceAddress' | 'description' | 'enabled' | 'tcpPort' | 'udpPort' | 'needsRepair' | 'portCount' | 'hairpin';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Vm, { ref: true, deleteRule: 'cascade' })
  @Index()
  vm!: Ref<Vm>;

  /** its VM's router (a copy, so that the per-router unique constraints can name it) */
  @ManyToOne(() => Router, { ref: true, fieldName: 'router', updateRule: 'cascade', deleteRule: 'restrict' })
  router!: Ref<Router>;

  @Field(() => String, { nullable: true, description: 'Stable name of the rule within its VM (unique per VM), the key applyVm matches rules by; null for a rule created without one.' })
  @Property({ type: 'text', nullable: true })
  name?: string | null;

  @Field(() => Int, { description: 'The VyOS `nat destination rule` number, allocated from NAT_RULE_RANGE.' })
  @Property({ type: 'integer' })
  ruleNumber!: number;

  @Field(() => Protocol, { description: 'Which transport the rule forwards.' })
  @Enum({ items: () => Protocol })
  protocol!: Protocol;

  @Field(() => PortScalar, { description: 'Port on the WAN interface that is forwarded (for a range: its first port).' })
  // (the externalPort filters search the claim ranges' GiST indexes: a range holds many ports)
  @Property({ type: 'integer' })
  externalPort!: number;

  @Field(() => PortScalar, { description: 'Port on the VM that traffic is translated to (for a range: its first port, always externalPort, docs/operations.md "Port ranges").' })
  @Property({ type: 'integer' })
  internalPort!: number;

  @Field(() => Int, { description: 'How many consecutive ports the rule forwards, from externalPort on the WAN to the same port numbers on the VM; 1 for a single port.' })
  @Property({ type: 'integer', default: 1 })
  portCount: number = 1;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect; null means anyone.' })
  @Property({ type: 'text', nullable: true })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Free text shown on the router (at most 200 characters).' })
  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Field({ description: 'A disabled rule stays on the router with `disable`.' })
  @Property({ type: 'boolean' })
  enabled: boolean = true;

  /** VYOS_HAIRPIN: this rule's own choice; null follows VYOS_HAIRPIN_DEFAULT (the API shows the effective value) */
  @Property({ type: 'boolean', nullable: true })
  hairpin?: boolean | null;

  // The external port as claimed per transport, so unique indexes enforce "TCP_UDP overlaps both".
  @Property({ type: 'integer', nullable: true })
  tcpPort?: number | null;

  @Property({ type: 'integer', nullable: true })
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
