import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import { PortRule, Role, Vm } from '../../domain/entities/index.js';
import { byId, claimFor, findEarlier, idempotencyKey, idempotent } from '../../changes/idempotency.js';
import { addPortRule, isUuid, removePortRule, updatePortRule, validatePatch, validatePortRule } from '../../changes/vm-changes.js';
import { badInput, notFound } from '../../domain/errors.js';
import { hairpinOf } from '../../domain/hairpin.js';
import type { GraphQLContext } from '../context.js';
import { asId, DRY_RUN, plannedRule, runChange, type PlannedRule } from '../dry-run.js';
import { portRuleRow, type PortRuleRow } from '../read-model.js';
import { PortRuleInput, UpdatePortRuleInput } from '../inputs.js';
import { CHANGE_COST } from '../../security/query-limits.js';

const dryRunArg = { nullable: true, defaultValue: false, description: DRY_RUN } as const;

@Resolver(() => PortRule)
export class PortRuleResolver {
  @Authorized(Role.VIEWER)
  @Query(() => PortRule, { nullable: true, description: 'One port rule by id, or null.' })
  async portRule(@Ctx() { em }: GraphQLContext, @Arg('id', () => ID, { description: 'The port rule id.' }) id: string) {
    return isUuid(id) ? portRuleRow(em, id) : null;
  }

  @FieldResolver(() => Boolean, {
    description: 'Whether the rule also answers on VYOS_PUBLIC_ADDRESS from inside the LAN (a hairpin twin, docs/operations.md "Hairpin"): its own choice, else VYOS_HAIRPIN_DEFAULT; false while VYOS_HAIRPIN is off.',
  })
  hairpin(@Root() rule: { hairpin?: boolean | null }, @Ctx() { app }: GraphQLContext): boolean {
    return hairpinOf(rule.hairpin, app.config.hairpin);
  }

  @FieldResolver(() => Vm, { description: 'The VM the rule forwards to.' })
  async vm(@Root() rule: PortRule | PortRuleRow | PlannedRule, @Ctx() { loaders }: GraphQLContext) {
    // a dry run's rule brings its would-be VM along (dry-run.ts)
    if ('plannedVm' in rule) return rule.plannedVm;
    // rows carry vmId; entities (from the drift resolvers) a reference
    return loaders.vmById.load('vmId' in rule ? rule.vmId : rule.vm.id);
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Adds a port rule to a VM: one router commit.' })
  async addPortRule(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('vmId', () => ID, { description: 'The VM to forward to.' }) vmId: string,
    @Arg('input', () => PortRuleInput, { description: 'The rule to add.' }) input: PortRuleInput,
    @Arg('idempotencyKey', () => String, { nullable: true, description: 'Retrying with the same key and input returns the first rule and changes nothing; another input with it is a CONFLICT (docs/api-reference.md "Idempotency").' })
    key: string | null,
    @Arg('dryRun', () => Boolean, dryRunArg) dryRun: boolean | null,
  ) {
    const spec = validatePortRule('input', input);
    const claim = claimFor(idempotencyKey('idempotencyKey', key), 'addPortRule', { vmId, ...spec });
    const retention = ctx.app.config.idempotencyRetentionMs;
    const earlier = claim && !dryRun ? await findEarlier(ctx.em, claim, retention) : null;
    if (earlier) return loadRule(ctx.em, earlier.resultRef);
    return runChange(ctx, info, dryRun, idempotent(addPortRule(vmId, spec), claim, retention, byId), loadRule, plannedRule, await ctx.app.fleet.forVm(ctx.em, vmId));
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Changes a port rule; the router rule is rewritten in one commit.' })
  async updatePortRule(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('id', () => ID, { description: 'The port rule to change.' }) id: string,
    @Arg('input', () => UpdatePortRuleInput, { description: 'The fields to change.' }) input: UpdatePortRuleInput,
    @Arg('dryRun', () => Boolean, dryRunArg) dryRun: boolean | null,
  ) {
    const patch = validatePatch(input);
    if (Object.keys(patch).length === 0) throw badInput('input', 'name at least one field to change');
    return runChange(ctx, info, dryRun, updatePortRule(id, patch), loadRule, plannedRule, await ctx.app.fleet.forRule(ctx.em, id));
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Enables or disables a rule (a disabled rule stays on the router with `disable`).' })
  async setPortRuleEnabled(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('id', () => ID, { description: 'The port rule.' }) id: string,
    @Arg('enabled', { description: 'false disables the rule (it stays on the router with `disable`), true enables it.' }) enabled: boolean,
    @Arg('dryRun', () => Boolean, dryRunArg) dryRun: boolean | null,
  ) {
    return runChange(ctx, info, dryRun, updatePortRule(id, { enabled }, 'setPortRuleEnabled'), loadRule, plannedRule, await ctx.app.fleet.forRule(ctx.em, id));
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => ID, { complexity: CHANGE_COST, description: 'Deletes a port rule from the router and the database; returns its id.' })
  async removePortRule(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('id', () => ID, { description: 'The port rule to delete.' }) id: string,
    @Arg('dryRun', () => Boolean, dryRunArg) dryRun: boolean | null,
  ) {
    return runChange(ctx, info, dryRun, removePortRule(id), asId, asId, await ctx.app.fleet.forRule(ctx.em, id));
  }
}

async function loadRule(em: GraphQLContext['em'], id: string): Promise<PortRuleRow> {
  const rule = await portRuleRow(em, id);
  if (!rule) throw notFound('port rule', id);
  return rule;
}
