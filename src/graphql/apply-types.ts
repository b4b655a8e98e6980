// GraphQL types of the declarative VM mutations, applyVm and updateVm (src/changes/vm-apply.ts).
import { IPv4Resolver } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { RuleChangeKind } from '../changes/vm-apply.js';
import { PortRule, Protocol, RouterCommandType, Vm } from '../domain/entities/index.js';
import { ROUTER_PLACEMENT } from './inputs.js';
import { PortScalar } from './scalars.js';

registerEnumType(RuleChangeKind, {
  name: 'RuleChangeKind',
  description: 'What applyVm did (or, in a dry run, would do) to one port rule.',
  valuesConfig: {
    CREATED: { description: 'A new rule: a new rule number, and an allocated external port unless one was given.' },
    UPDATED: { description: 'Changed in place: same rule number, same external port unless the input named another.' },
    UNCHANGED: { description: 'Already as asked: rule number and external port kept, nothing sent for it unless the router had drifted.' },
    REMOVED: { description: 'Not in the input: deleted from the router and the database.' },
  },
});

@InputType({ description: 'One port rule of applyVm\'s complete list, matched to the VM\'s rules by `name`.' })
export class ApplyPortRuleInput {
  @Field({ description: 'Stable name of the rule within the VM (1-63 letters, digits, `.`, `-`, `_`): the key the rule is matched by. A name the VM has no rule for adopts an existing unnamed rule with the same internal port and protocol (and external port, when given).' })
  name!: string;

  @Field(() => PortScalar, { nullable: true, description: 'Port on the VM that traffic is translated to. Omitted: the external port (a range always keeps its port numbers).' })
  internalPort?: number | null;

  @Field(() => PortScalar, { nullable: true, description: 'Port on the WAN side (a range\'s first). Omitted: a matched rule keeps its port, a new one is allocated from EXTERNAL_PORT_RANGE.' })
  externalPort?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 1, description: 'Consecutive ports to forward from externalPort to the same port numbers on the VM (docs/operations.md "Port ranges"); 1 when omitted.' })
  portCount?: number | null;

  @Field(() => Protocol, { nullable: true, defaultValue: Protocol.TCP, description: 'Transport to forward; TCP when omitted.' })
  protocol?: Protocol | null;

  @Field(() => String, { nullable: true, description: 'IPv4 address or CIDR allowed to connect; omit for anyone.' })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'Shown on the router; at most 200 printable characters, no quotes or newlines. Omitted: `vm <name>`.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'A disabled rule is on the router with `disable`.' })
  enabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'VYOS_HAIRPIN: also answer on VYOS_PUBLIC_ADDRESS from inside the LAN (a twin rule on VYOS_LAN_INTERFACE). Omitted: VYOS_HAIRPIN_DEFAULT. true needs VYOS_HAIRPIN=on.' })
  hairpin?: boolean | null;
}

@InputType({ description: 'The complete desired state of a VM, for applyVm.' })
export class ApplyVmInput {
  @Field({ description: 'The VM\'s name: an existing VM with it is converged, otherwise one is created.' })
  name!: string;

  @Field(() => IPv4Resolver, { nullable: true, description: 'LAN address. Omitted: kept (an existing VM) or allocated from LAN_POOL (a new one).' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true, description: 'MAC address. Omitted: kept; null: cleared.' })
  macAddress?: string | null;

  @Field(() => String, { nullable: true, description: `${ROUTER_PLACEMENT} An existing VM stays on its router: another router here is a CONFLICT.` })
  router?: string | null;

  @Field(() => [ApplyPortRuleInput], { description: 'Every port rule the VM should have (at most 100); rules of the VM not in the list are removed.' })
  portRules!: ApplyPortRuleInput[];
}

@InputType({ description: 'Fields of a VM to change; omitted fields stay.' })
export class UpdateVmInput {
  @Field(() => String, { nullable: true, description: 'New unique name (rules without a description show it on the router as `vm <name>`).' })
  name?: string | null;

  @Field(() => IPv4Resolver, { nullable: true, description: 'New LAN address (must be free): every rule\'s translation address moves with it, in the same commit.' })
  internalIp?: string | null;

  @Field(() => String, { nullable: true, description: 'New MAC address; null clears it.' })
  macAddress?: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'What applyVm did to one port rule.' })
export class RuleChange {
  @Field({ description: 'The rule\'s name (for a removed rule that had none: `#<ruleNumber>`).' })
  name!: string;

  @Field(() => RuleChangeKind, { description: 'What happened to it.' })
  change!: RuleChangeKind;

  @Field(() => ID, { description: 'The port rule\'s id (a would-be-new one\'s in a dry run is not kept).' })
  portRuleId!: string;

  @Field(() => Int, { description: 'Its rule number (kept for UPDATED and UNCHANGED).' })
  ruleNumber!: number;

  @Field(() => PortScalar, { description: 'Its external port.' })
  externalPort!: number;

  @Field(() => PortRule, { nullable: true, description: 'The rule as it is now; null when REMOVED or in a dry run.' })
  portRule!: unknown;
}

@ObjectType({ simpleResolvers: true, description: 'The outcome of applyVm: one change set, one router commit (none when nothing differed).' })
export class ApplyVmResult {
  @Field(() => Vm, { nullable: true, description: 'The VM as it is now (in a dry run: as it would be); null only in a dry run that would create it.' })
  vm!: unknown;

  @Field({ description: 'The VM was (or would be) created.' })
  created!: boolean;

  @Field({ description: 'Anything was (or would be) changed, in the database or on the router.' })
  changed!: boolean;

  @Field(() => [RuleChange], { description: 'Each input rule in input order, then the removed ones.' })
  rules!: RuleChange[];

  @Field(() => [RouterCommandType], { description: 'The router commands of this change, as sent (dry run: as they would be sent); empty when nothing differed.' })
  commands!: RouterCommandType[];

  @Field({ description: 'True when this was a dry run: nothing was changed.' })
  dryRun!: boolean;
}
