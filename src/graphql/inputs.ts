import { IPv4Resolver } from 'graphql-scalars';
import { PortScalar } from './scalars.js';
import { Field, InputType } from 'type-graphql';
import { Protocol } from '../domain/entities/index.js';

@InputType({ description: 'A port to forward to the VM.' })
export class PortRuleInput {
  @Field(() => PortScalar, { description: 'Port on the VM that traffic is translated to.' })
  internalPort!: number;

  @Field(() => PortScalar, { nullable: true, description: 'Port on the WAN side; allocated from EXTERNAL_PORT_RANGE when omitted.' })
  externalPort?: number | null;

  @Field(() => Protocol, { nullable: true, defaultValue: Protocol.TCP })
  protocol?: Protocol | null;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect (e.g. 203.0.113.0/24); omit for anyone.' })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Shown on the router; at most 200 printable characters, no quotes or newlines.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'A disabled rule is on the router with `disable`.' })
  enabled?: boolean | null;
}

@InputType({ description: 'A VM to provision, with its port rules: one router commit.' })
export class ProvisionVmInput {
  @Field({ description: 'Unique DNS-label-like name.' })
  name!: string;

  @Field(() => IPv4Resolver, { nullable: true, description: 'LAN address; allocated from LAN_POOL when omitted.' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true })
  macAddress?: string | null;

  @Field(() => [PortRuleInput], { nullable: true, defaultValue: [] })
  portRules?: PortRuleInput[] | null;

  @Field(() => String, { nullable: true, description: 'Retrying with the same key returns the first result and changes nothing.' })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Fields of a port rule to change; omitted fields stay, null clears an optional one.' })
export class UpdatePortRuleInput {
  @Field(() => PortScalar, { nullable: true })
  externalPort?: number | null;

  @Field(() => PortScalar, { nullable: true })
  internalPort?: number | null;

  @Field(() => Protocol, { nullable: true })
  protocol?: Protocol | null;

  @Field(() => String, { nullable: true })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}
