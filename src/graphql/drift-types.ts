// GraphQL types of drift, reconcile and import (design.md "The GraphQL API").
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PortRule, RouterCommandType } from '../domain/entities/index.js';
import { DriftKind } from '../drift/drift-diff.js';
import { ReconcileMode } from '../drift/reconcile-plan.js';
import type { DriftFieldName } from '../vyos/types.js';

registerEnumType(DriftKind, {
  name: 'DriftKind',
  description: 'How the router differs from the database.',
  valuesConfig: {
    MISSING_ON_ROUTER: { description: 'A port rule of the database has no rule with its number on the router.' },
    UNMANAGED_ON_ROUTER: { description: 'A rule inside NAT_RULE_RANGE that the database does not know (made by hand, or left behind).' },
    DRIFTED: { description: 'The rule is on the router but differs; `fields` lists every difference.' },
    SHADOWED: {
      description:
        'A foreign rule outside NAT_RULE_RANGE, with a lower number, catches the same port and protocol, so VyOS applies it before ours. `ruleNumber` and `routerRule` are the foreign rule, `portRule` ours.',
    },
  },
});

registerEnumType(ReconcileMode, {
  name: 'ReconcileMode',
  description: 'How far reconcile goes, with the meanings of Ansible resource-module states. Rules outside NAT_RULE_RANGE are never touched.',
  valuesConfig: {
    MERGED: { description: 'Create the rules missing on the router; change nothing else.' },
    REPLACED: { description: 'MERGED, and rewrite drifted rules to what the database says.' },
    OVERRIDDEN: { description: 'REPLACED, and delete rules inside NAT_RULE_RANGE that the database does not know.' },
  },
});

// camelCase values: the wire strings stay what they were when `field` was a String.
export enum DriftField {
  protocol = 'protocol',
  externalPort = 'externalPort',
  destinationAddress = 'destinationAddress',
  internalPort = 'internalPort',
  translationAddress = 'translationAddress',
  sourceAddress = 'sourceAddress',
  description = 'description',
  enabled = 'enabled',
  inboundInterface = 'inboundInterface',
}
registerEnumType(DriftField, {
  name: 'DriftField',
  description: 'A field of a NAT destination rule that drift is reported on.',
  valuesConfig: {
    protocol: { description: '`protocol`.' },
    externalPort: { description: '`destination port`.' },
    destinationAddress: { description: '`destination address` (a hairpin twin\'s public address).' },
    internalPort: { description: '`translation port`.' },
    translationAddress: { description: '`translation address` (the VM\'s internal IP).' },
    sourceAddress: { description: '`source address`.' },
    description: { description: '`description`.' },
    enabled: { description: 'Whether the rule lacks `disable` (`true`/`false`).' },
    inboundInterface: { description: '`inbound-interface` (the WAN interface).' },
  },
});
// Every name the diff can report is a value of the enum (a compile error otherwise).
const _everyDriftField: Record<DriftFieldName, DriftField> = DriftField;
void _everyDriftField;

@ObjectType({ simpleResolvers: true, description: 'One field that differs: what the database expects and what the router has (null = not set).' })
export class FieldDrift {
  @Field(() => DriftField, {
    description:
      'protocol, externalPort, destinationAddress, internalPort, translationAddress, sourceAddress, description, enabled or inboundInterface.',
  })
  field!: DriftFieldName;

  @Field(() => String, { nullable: true, description: 'The value the database implies (for SHADOWED: our rule).' })
  expected?: string | null;

  @Field(() => String, { nullable: true, description: 'The value on the router (for SHADOWED: the foreign rule).' })
  actual?: string | null;
}

@ObjectType('RouterRule', { simpleResolvers: true, description: 'A NAT destination rule as the router holds it; values are VyOS strings, null when not set.' })
export class RouterRuleType {
  @Field(() => Int, { description: 'The `nat destination rule` number.' })
  ruleNumber!: number;

  @Field(() => String, { nullable: true, description: '`protocol` (tcp, udp, tcp_udp, all, ...).' })
  protocol?: string | null;

  @Field(() => String, { nullable: true, description: '`destination port`: a port, a list or a range.' })
  externalPort?: string | null;

  @Field(() => String, { nullable: true, description: '`destination address` (only hairpin twins of ours carry one).' })
  destinationAddress?: string;

  @Field(() => String, { nullable: true, description: '`translation port`.' })
  internalPort?: string | null;

  @Field(() => String, { nullable: true, description: '`translation address`.' })
  translationAddress?: string | null;

  @Field(() => String, { nullable: true, description: '`source address`.' })
  sourceAddress?: string | null;

  @Field(() => String, { nullable: true, description: '`description`.' })
  description?: string | null;

  @Field(() => String, { nullable: true, description: '`inbound-interface` (1.3) or `inbound-interface name` (1.4+).' })
  inboundInterface?: string | null;

  @Field({ description: 'Whether the rule carries `disable`.' })
  disabled!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'One difference between the database and the router.' })
export class DriftItem {
  @Field(() => DriftKind, { description: 'What kind of difference this is.' })
  kind!: DriftKind;

  @Field(() => Int, { description: 'The router rule number (for SHADOWED: the foreign rule that shadows ours).' })
  ruleNumber!: number;

  @Field(() => PortRule, { nullable: true, description: 'Our port rule involved; null for UNMANAGED_ON_ROUTER.' })
  portRule?: PortRule | null;

  @Field(() => RouterRuleType, { nullable: true, description: 'The rule on the router; null for MISSING_ON_ROUTER.' })
  routerRule?: RouterRuleType | null;

  @Field(() => [FieldDrift], { description: 'DRIFTED: every differing field. SHADOWED: our port and protocol next to the foreign rule\'s. Otherwise empty.' })
  fields!: FieldDrift[];
}

export enum FirewallVerdict {
  DROPPED = 'DROPPED',
  UNCERTAIN = 'UNCERTAIN',
}
registerEnumType(FirewallVerdict, {
  name: 'FirewallVerdict',
  description: "What the router's forward filter does with a new connection to a port rule's VM.",
  valuesConfig: {
    DROPPED: { description: 'Dropped (or rejected): the port does not answer.' },
    UNCERTAIN: { description: 'Dropped unless a rule this server cannot evaluate (a group, a source restriction, an output interface) accepts it.' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'A port rule whose forwarded traffic the firewall drops, or may drop.' })
export class FirewallFinding {
  @Field(() => Int, { description: "The port rule's `nat destination rule` number." })
  ruleNumber!: number;

  @Field(() => PortRule, { nullable: true, description: 'The port rule (null if deleted since).' })
  portRule!: PortRule | null;

  @Field(() => FirewallVerdict, { description: 'DROPPED, or UNCERTAIN when a rule this server cannot evaluate might accept it.' })
  verdict!: FirewallVerdict;

  @Field({ description: 'The transports concerned: `tcp`, `udp` or `tcp, udp`.' })
  transports!: string;

  @Field({ description: 'What decides it, e.g. `forward filter default-action drop` or `forward filter rule 20 (drop)`.' })
  by!: string;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "A rule this server keeps beside its NAT destination rules: VYOS_FIREWALL=manage's `firewall ipv4 forward filter` accept rule, or VYOS_HAIRPIN's `nat source` masquerade rule.",
})
export class OwnedRuleStatus {
  @Field(() => Int, { description: 'Its rule number (VYOS_FIREWALL_RULE, VYOS_HAIRPIN_SNAT_RULE).' })
  ruleNumber!: number;

  @Field({
    description:
      'IN_PLACE: as written while a port rule is enabled, absent while none is; MISSING or DRIFTED: the next change or reconcile rewrites it in its commit; FOREIGN: a rule without our description holds the number and is left alone.',
  })
  state!: string;
}

@ObjectType({ simpleResolvers: true, description: "VYOS_FIREWALL=check: whether the router's `firewall ipv4 forward filter` (on VyOS 1.3: the rulesets bound to interfaces) lets new connections to the port rules' VMs through (docs/operations.md#making-the-port-reachable)." })
export class FirewallCheck {
  @Field({ description: 'VYOS_FIREWALL: `check` or `off`.' })
  mode!: string;

  @Field({ description: 'False when off, when the firewall could not be read, or on VyOS 1.3 with a WAN interface that is not `ethN` (1.3 binds rulesets to interfaces); `detail` says which.' })
  checked!: boolean;

  @Field({ description: 'One sentence: what was found, or why nothing was checked.' })
  detail!: string;

  @Field(() => String, { nullable: true, description: "The forward filter's `default-action` as set; null when unset (VyOS then accepts) or when there is no forward filter." })
  defaultAction!: string | null;

  @Field(() => Int, { description: 'Enabled port rules whose traffic is accepted.' })
  accepted!: number;

  @Field(() => Int, { description: 'Enabled port rules whose traffic is dropped.' })
  dropped!: number;

  @Field(() => Int, { description: 'Enabled port rules whose traffic may be dropped (see FirewallVerdict.UNCERTAIN).' })
  uncertain!: number;

  @Field(() => [FirewallFinding], { description: 'The dropped and uncertain rules by rule number, the first 100 (the counts are complete).' })
  findings!: FirewallFinding[];

  @Field(() => OwnedRuleStatus, { nullable: true, description: 'VYOS_FIREWALL=manage: the accept rule this server keeps; null in other modes.' })
  managed!: OwnedRuleStatus | null;
}

@ObjectType({ simpleResolvers: true, description: 'The database compared with one read of the router, taken while no change is in flight.' })
export class SyncReport {
  @Field({ description: 'The router compared (`routers`).' })
  router!: string;

  @Field({ description: 'When the router was read.' })
  checkedAt!: Date;

  @Field({ description: 'True only when there are no items.' })
  inSync!: boolean;

  @Field(() => [DriftItem], { description: 'Every difference, by rule number.' })
  items!: DriftItem[];

  @Field(() => Int, {
    description:
      'Failed changes whose undo the router has not reached yet (journal rows UNDO_PENDING, or left unfinished by a dead process). The server retries them until router and database agree; their rules show up in `items` meanwhile.',
  })
  pendingUndos!: number;

  @Field(() => Date, {
    nullable: true,
    description:
      "Since when changes are live on the router but not saved to its boot config (`/config-file save` failed; a reboot would lose them). The server retries the save; null when saved (or VYOS_SAVE=off).",
  })
  unsavedSince!: Date | null;

  @Field(() => FirewallCheck, {
    nullable: true,
    description:
      'Whether the firewall lets the port rules\' traffic through (VYOS_FIREWALL). Not drift: it never makes `inSync` false, and reconcile does not change the firewall. Null in reports that did not check.',
  })
  firewall!: FirewallCheck | null;

  @Field(() => OwnedRuleStatus, {
    nullable: true,
    description: "VYOS_HAIRPIN=on: the masquerade rule (`nat source rule VYOS_HAIRPIN_SNAT_RULE`); each port rule's twin shows in `items` like any rule of ours. Null when hairpin is off.",
  })
  hairpin!: OwnedRuleStatus | null;
}

@ObjectType({ simpleResolvers: true, description: 'What reconcile did, or would do.' })
export class ReconcileResult {
  @Field(() => ReconcileMode, { description: 'The mode that was (or would be) applied.' })
  mode!: ReconcileMode;

  @Field({ description: 'True when nothing was changed and `commands` is the plan.' })
  dryRun!: boolean;

  @Field(() => [RouterCommandType], { description: 'The exact router commands: to be sent (dry run) or sent in one commit.' })
  commands!: RouterCommandType[];

  @Field({ description: 'True when a router commit was made.' })
  applied!: boolean;

  @Field(() => SyncReport, { description: 'Dry run: the report the plan was made from. Otherwise: the report taken after the repair.' })
  report!: SyncReport;
}

@ObjectType({ simpleResolvers: true, description: 'A router rule that importRouterRules adopted (or would adopt) as a port rule.' })
export class ImportedRule {
  @Field(() => Int, { description: 'The rule number, kept by the new port rule.' })
  ruleNumber!: number;

  @Field({ description: 'The VM whose internal IP the rule translates to.' })
  vmName!: string;

  @Field({ description: 'True when the VM was (or would be) created for the address (createVms).' })
  vmCreated!: boolean;

  @Field(() => PortRule, { nullable: true, description: 'The new port rule; null on a dry run.' })
  portRule?: PortRule | null;

  @Field(() => RouterRuleType, { description: 'The rule as it was on the router.' })
  routerRule!: RouterRuleType;
}

@ObjectType({ simpleResolvers: true, description: 'A router rule inside NAT_RULE_RANGE that importRouterRules could not adopt, and why.' })
export class SkippedRule {
  @Field(() => Int, { description: 'The rule number on the router (left as it is).' })
  ruleNumber!: number;

  @Field({ description: 'Why it was not adopted (unknown address, unsupported protocol or port syntax, port already taken, ...).' })
  reason!: string;

  @Field(() => RouterRuleType, { description: 'The rule as it is on the router.' })
  routerRule!: RouterRuleType;
}

@ObjectType({ simpleResolvers: true, description: 'What importRouterRules did, or would do.' })
export class ImportResult {
  @Field({ description: 'True when nothing was changed.' })
  dryRun!: boolean;

  @Field(() => [ImportedRule], { description: 'The rules adopted as port rules (or that would be, on a dry run).' })
  adopted!: ImportedRule[];

  @Field(() => [SkippedRule], { description: 'The UNMANAGED_ON_ROUTER rules that could not be adopted, each with the reason.' })
  skipped!: SkippedRule[];

  @Field(() => [RouterCommandType], {
    description: 'Router commands that rewrite adopted rules to our rendering (WAN interface, default description, a single port\'s explicit translation port, a range\'s none), in the same commit.',
  })
  commands!: RouterCommandType[];

  @Field(() => SyncReport, { description: 'Dry run: the report before. Otherwise: the report taken after the import.' })
  report!: SyncReport;
}
