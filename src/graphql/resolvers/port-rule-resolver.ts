import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { PortRule, Role, Vm } from '../../domain/entities/index.js';
import { addPortRule, isUuid, removePortRule, updatePortRule, validatePatch, validatePortRule } from '../../changes/vm-changes.js';
import { badInput, notFound } from '../../domain/errors.js';
import type { GraphQLContext } from '../context.js';
import { portRuleRow, type PortRuleRow } from '../read-model.js';
import { PortRuleInput, UpdatePortRuleInput } from '../inputs.js';
import { CHANGE_COST } from '../../security/query-limits.js';

@Resolver(() => PortRule)
export class PortRuleResolver {
  @Authorized(Role.VIEWER)
  @Query(() => PortRule, { nullable: true, description: 'One port rule by id, or null.' })
  async portRule(@Ctx() { em }: GraphQLContext, @Arg('id', () => ID, { description: 'The port rule id.' }) id: string) {
    return isUuid(id) ? portRuleRow(em, id) : null;
  }

  @FieldResolver(() => Vm, { description: 'The VM the rule forwards to.' })
  async vm(@Root() rule: PortRule | PortRuleRow, @Ctx() { loaders }: GraphQLContext) {
    // rows carry vmId; entities (from the drift resolvers) a reference
    return loaders.vmById.load('vmId' in rule ? rule.vmId : rule.vm.id);
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Adds a port rule to a VM: one router commit.' })
  async addPortRule(@Ctx() { em, app }: GraphQLContext, @Arg('vmId', () => ID, { description: 'The VM to forward to.' }) vmId: string, @Arg('input', () => PortRuleInput, { description: 'The rule to add.' }) input: PortRuleInput) {
    const id = await app.coordinator.submit(addPortRule(vmId, validatePortRule('input', input)));
    return loadRule(em, id);
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Changes a port rule; the router rule is rewritten in one commit.' })
  async updatePortRule(@Ctx() { em, app }: GraphQLContext, @Arg('id', () => ID, { description: 'The port rule to change.' }) id: string, @Arg('input', () => UpdatePortRuleInput, { description: 'The fields to change.' }) input: UpdatePortRuleInput) {
    const patch = validatePatch(input);
    if (Object.keys(patch).length === 0) throw badInput('input', 'name at least one field to change');
    const ruleId = await app.coordinator.submit(updatePortRule(id, patch));
    return loadRule(em, ruleId);
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => PortRule, { complexity: CHANGE_COST, description: 'Enables or disables a rule (a disabled rule stays on the router with `disable`).' })
  async setPortRuleEnabled(@Ctx() { em, app }: GraphQLContext, @Arg('id', () => ID, { description: 'The port rule.' }) id: string, @Arg('enabled', { description: 'false disables the rule (it stays on the router with `disable`), true enables it.' }) enabled: boolean) {
    const ruleId = await app.coordinator.submit(updatePortRule(id, { enabled }, 'setPortRuleEnabled'));
    return loadRule(em, ruleId);
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => ID, { complexity: CHANGE_COST, description: 'Deletes a port rule from the router and the database; returns its id.' })
  async removePortRule(@Ctx() { app }: GraphQLContext, @Arg('id', () => ID, { description: 'The port rule to delete.' }) id: string) {
    return app.coordinator.submit(removePortRule(id));
  }
}

async function loadRule(em: GraphQLContext['em'], id: string): Promise<PortRuleRow> {
  const rule = await portRuleRow(em, id);
  if (!rule) throw notFound('port rule', id);
  return rule;
}
