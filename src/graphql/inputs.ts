import { IPv4Resolver } from 'graphql-scalars';
import { PortScalar } from './scalars.js';
import { Field, InputType, Int } from 'type-graphql';
import { Protocol } from '../domain/entities/index.js';

/** The `router` input field's description, the same on provisionVm and applyVm. */
export const ROUTER_PLACEMENT =
  'The router to put a new VM on (`routers`; it must be ENABLED). Omitted: the enabled router with the most free LAN addresses (docs/operations.md "Placement").';

@InputType({ description: 'A port to forward to the VM.' })
export class PortRuleInput {
  @Field(() => String, { nullable: true, description: 'Stable name of the rule within its VM (unique per VM; 1-63 letters, digits, `.`, `-`, `_`), the key applyVm matches it by.' })
  name?: string | null;

  @Field(() => PortScalar, { nullable: true, description: 'Port on the VM that traffic is translated to. Omitted: the external port (a range always keeps its port numbers).' })
  internalPort?: number | null;

  @Field(() => PortScalar, { nullable: true, description: 'Port on the WAN side (a range\'s first); allocated from EXTERNAL_PORT_RANGE when omitted (a range: the lowest free run).' })
  externalPort?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 1, description: 'Consecutive ports to forward from externalPort to the same port numbers on the VM (docs/operations.md "Port ranges"); 1 when omitted.' })
  portCount?: number | null;

  @Field(() => Protocol, { nullable: true, defaultValue: Protocol.TCP, description: 'Transport to forward; TCP when omitted.' })
  protocol?: Protocol | null;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect (e.g. 203.0.113.0/24); omit for anyone.' })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Shown on the router; at most 200 printable characters, no quotes or newlines.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'A disabled rule is on the router with `disable`.' })
  enabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'VYOS_HAIRPIN: also answer on VYOS_PUBLIC_ADDRESS from inside the LAN (a twin rule on VYOS_LAN_INTERFACE). Omitted: VYOS_HAIRPIN_DEFAULT. true needs VYOS_HAIRPIN=on.' })
  hairpin?: boolean | null;
}

@InputType({ description: 'A VM to provision, with its port rules: one router commit.' })
export class ProvisionVmInput {
  @Field({ description: 'Unique DNS-label-like name.' })
  name!: string;

  @Field(() => IPv4Resolver, { nullable: true, description: 'LAN address; allocated from LAN_POOL when omitted.' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true, description: 'MAC address, if known (e.g. 52:54:00:12:34:56); stored for reference, not sent to the router.' })
  macAddress?: string | null;

  @Field(() => [PortRuleInput], { nullable: true, defaultValue: [], description: 'Port rules to create with the VM, all in the same router commit.' })
  portRules?: PortRuleInput[] | null;

  @Field(() => String, { nullable: true, description: 'Retrying with the same key and input returns the first result and changes nothing; another input with it is a CONFLICT (docs/api-reference.md "Idempotency"). Kept IDEMPOTENCY_RETENTION_HOURS.' })
  idempotencyKey?: string | null;

  @Field(() => String, { nullable: true, description: ROUTER_PLACEMENT })
  router?: string | null;
}

@InputType({ description: 'Fields of a port rule to change; omitted fields stay, null clears an optional one.' })
export class UpdatePortRuleInput {
  @Field(() => PortScalar, { nullable: true, description: 'New port on the WAN side (must be free for the protocol).' })
  externalPort?: number | null;

  @Field(() => PortScalar, { nullable: true, description: 'New port on the VM (a range keeps its port numbers: only the external port).' })
  internalPort?: number | null;

  @Field(() => Int, { nullable: true, description: 'New number of consecutive ports; the added ports must be free for the protocol.' })
  portCount?: number | null;

  @Field(() => Protocol, { nullable: true, description: 'New transport; the external port must be free for it.' })
  protocol?: Protocol | null;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect; null allows anyone.' })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Text shown on the router (at most 200 printable characters, no quotes or newlines); null removes it.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'false keeps the rule on the router with `disable`; true enables it again.' })
  enabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'VYOS_HAIRPIN: true adds the rule\'s twin on VYOS_LAN_INTERFACE, false removes it (in the same commit); null follows VYOS_HAIRPIN_DEFAULT again.' })
  hairpin?: boolean | null;
}
