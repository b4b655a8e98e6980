// applyVm and updateVm: the declarative VM mutations (src/changes/vm-apply.ts).
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, ID, Info, Mutation, Resolver } from 'type-graphql';
import { dryRunOf } from '../../changes/dry-run.js';
import { claimFor, findEarlier, idempotencyKey, idempotent } from '../../changes/idempotency.js';
import { applyVm, RuleChangeKind, updateVm, validateApply, validateVmPatch, type ApplyOutcome } from '../../changes/vm-apply.js';
import { Role, Vm } from '../../domain/entities/index.js';
import { conflict } from '../../domain/errors.js';
import type { RouterUnit } from '../../fleet/router-unit.js';
import { routerNameArg } from '../../fleet/routers.js';
import { CHANGE_COST } from '../../security/query-limits.js';
import { ApplyVmInput, ApplyVmResult, UpdateVmInput } from '../apply-types.js';
import type { GraphQLContext } from '../context.js';
import { DRY_RUN, plannedVm, reportDryRun, runChange } from '../dry-run.js';
import { vmPortRuleRows } from '../read-model.js';
import { loadVm } from './vm-resolver.js';

@Resolver()
export class VmApplyResolver {
  @Authorized(Role.OPERATOR)
  @Mutation(() => ApplyVmResult, {
    complexity: CHANGE_COST,
    description:
      'Converges a VM, created if its name is new, to this complete desired state: rules matched by name are kept (same rule number and external port) or changed in place, new ones are added, rules not in the list are removed. One change set: one router commit, none when nothing differs.',
  })
  async applyVm(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('input', () => ApplyVmInput, { description: 'The VM\'s complete desired state.' }) input: ApplyVmInput,
    @Arg('idempotencyKey', () => String, { nullable: true, description: 'Retrying with the same key and input returns the first result and changes nothing; another input with it is a CONFLICT (docs/api-reference.md "Idempotency").' })
    key: string | null,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: 'Plan only: the result says what would change, with the exact router commands, and nothing is changed.' }) dryRun: boolean | null,
  ): Promise<ApplyVmResult> {
    const spec = validateApply(input);
    const claim = claimFor(idempotencyKey('idempotencyKey', key), 'applyVm', spec);
    const retention = ctx.app.config.idempotencyRetentionMs;
    const earlier = claim && !dryRun ? await findEarlier(ctx.em, claim, retention) : null;
    if (earlier) return answer(ctx, earlier.result as ApplyOutcome);
    const set = idempotent(applyVm(spec), claim, retention, { ref: (o) => o.vmId, replay: (e) => e.result as ApplyOutcome });
    const unit = await applyTarget(ctx, spec.name, input.router);
    if (!dryRun) return answer(ctx, await unit.coordinator.submit(set));
    const run = await unit.coordinator.submit(dryRunOf(set, (em, o) => (o.created ? Promise.resolve(null) : plannedVm(em, o.vmId))));
    reportDryRun(ctx, info, run.commands);
    return { ...run.result, vm: run.value, rules: run.result.rules.map((r) => ({ ...r, portRule: null })), dryRun: true };
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => Vm, { complexity: CHANGE_COST, description: 'Changes a VM\'s name, MAC or internal address; an address change moves every rule\'s translation address in the same router commit.' })
  async updateVm(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('id', () => ID, { description: 'The VM to change.' }) id: string,
    @Arg('input', () => UpdateVmInput, { description: 'The fields to change.' }) input: UpdateVmInput,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: DRY_RUN }) dryRun: boolean | null,
  ) {
    return runChange(ctx, info, dryRun, updateVm(id, validateVmPatch(input)), loadVm, plannedVm, await ctx.app.fleet.forVm(ctx.em, id));
  }
}

/**
 * An existing VM converges on its own router (moving one between routers is not supported: a
 * different `router` is a CONFLICT); a new one is placed.
 */
async function applyTarget(ctx: GraphQLContext, name: string, router: string | null | undefined): Promise<RouterUnit> {
  routerNameArg('input.router', router);
  const owner = await ctx.app.fleet.forVmName(ctx.em, name);
  if (!owner) return ctx.app.fleet.place(ctx.em, router);
  if (router != null && router !== owner.name) throw conflict(`input.router: VM ${name} lives on router ${owner.name}; moving a VM to another router is not supported`, { field: 'input.router' });
  return owner;
}

/** The committed outcome with the VM and its rules as they are now. */
async function answer(ctx: GraphQLContext, outcome: ApplyOutcome): Promise<ApplyVmResult> {
  const vm = await loadVm(ctx.em, outcome.vmId);
  const rules = new Map((await vmPortRuleRows(ctx.em, outcome.vmId)).map((r) => [r.id, r]));
  return {
    ...outcome,
    vm,
    rules: outcome.rules.map((r) => ({ ...r, portRule: r.change === RuleChangeKind.REMOVED ? null : rules.get(r.portRuleId) ?? null })),
    dryRun: false,
  };
}
