// Filters of the list queries. Every given field must match (AND); an omitted or null field does
// not filter. Equality on a rule's fields is exact: `protocol: TCP` matches TCP rules, not
// TCP_UDP ones (`portOwners` answers "who holds this port for TCP", claims included).
import { IPv4Resolver } from 'graphql-scalars';
import { Field, ID, InputType } from 'type-graphql';
import { Protocol } from '../domain/entities/index.js';
import * as check from '../domain/validation.js';
import { badInput } from '../domain/errors.js';
import { routerNameArg } from '../fleet/routers.js';
import type { PortRuleFilterValues, VmFilterValues } from './read-pages.js';
import { PortScalar } from './scalars.js';

@InputType({ description: 'Which VMs `vms` lists; every given field must match.' })
export class VmFilter {
  @Field(() => String, { nullable: true, description: 'Part of the name, case-insensitive (e.g. "web" finds web-1 and my-web).' })
  nameContains?: string | null;

  @Field(() => IPv4Resolver, { nullable: true, description: 'The VMs with this internal IP (at most one per router).' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true, description: 'VMs on the router with this name.' })
  router?: string | null;

  @Field(() => PortScalar, { nullable: true, description: 'VMs with a rule forwarding this external port, a range holding it included (with `protocol` and `enabled`: one rule matching all three).' })
  externalPort?: number | null;

  @Field(() => Protocol, { nullable: true, description: 'VMs with a rule of exactly this protocol.' })
  protocol?: Protocol | null;

  @Field(() => Boolean, { nullable: true, description: 'VMs with an enabled (true) or a disabled (false) rule.' })
  enabled?: boolean | null;
}

@InputType({ description: 'Which port rules `portRules` lists; every given field must match.' })
export class PortRuleFilter {
  @Field(() => ID, { nullable: true, description: 'Rules of this VM.' })
  vmId?: string | null;

  @Field(() => PortScalar, { nullable: true, description: 'Rules forwarding this external port, a range holding it included.' })
  externalPort?: number | null;

  @Field(() => Protocol, { nullable: true, description: 'Rules of exactly this protocol.' })
  protocol?: Protocol | null;

  @Field(() => Boolean, { nullable: true, description: 'Enabled (true) or disabled (false) rules.' })
  enabled?: boolean | null;

  @Field(() => IPv4Resolver, { nullable: true, description: 'Rules of the VMs with this internal IP (one per router).' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true, description: 'Rules on the router with this name.' })
  router?: string | null;
}

/** A port out of range is BAD_USER_INPUT naming the filter field (the scalar leaves range to validation). */
export function checkVmFilter(filter: VmFilter | null | undefined): VmFilterValues | null {
  if (!filter) return null;
  if (filter.externalPort != null) check.port('filter.externalPort', filter.externalPort);
  // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query.
  if (filter.nameContains?.includes('\u0000')) throw badInput('filter.nameContains', 'must not contain NUL');
  routerNameArg('filter.router', filter.router);
  return filter;
}

export function checkPortRuleFilter(filter: PortRuleFilter | null | undefined): PortRuleFilterValues | null {
  if (!filter) return null;
  if (filter.externalPort != null) check.port('filter.externalPort', filter.externalPort);
  routerNameArg('filter.router', filter.router);
  return filter;
}
