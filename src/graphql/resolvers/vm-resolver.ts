import type { GraphQLResolveInfo } from 'graphql';
import { routerNameArg } from '../../fleet/routers.js';
import { Arg, Authorized, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Ref } from '@mikro-orm/core';
import { PortRule, Role, Vm, type Router } from '../../domain/entities/index.js';
import { byId, claimFor, findEarlier, idempotent } from '../../changes/idempotency.js';
import { decommissionVm, isUuid, provisionVm, validateProvision } from '../../changes/vm-changes.js';
import { asId, DRY_RUN, plannedVm, runChange, type PlannedVm } from '../dry-run.js';
import { badInput, notFound } from '../../domain/errors.js';
import { connectionType, fieldsAt, pageRequest, selects } from '../connection.js';
import { VmFilter, checkVmFilter } from '../filters.js';
import { RULE_COLUMNS, ruleColumnsFor, vmColumnsFor, vmRow, vmRowByName, type PortRuleRow, type VmRow } from '../read-model.js';
import { VM_KEYSET, vmPage } from '../read-pages.js';
import type { GraphQLContext } from '../context.js';
import { ProvisionVmInput } from '../inputs.js';
import { CHANGE_COST } from '../../security/query-limits.js';

export const VmConnection = connectionType('Vm', Vm);

@Resolver(() => Vm)
export class VmResolver {
  @Authorized(Role.VIEWER)
  @Query(() => VmConnection, { description: 'VMs, oldest first, as a Relay connection (forwards with first/after, backwards with last/before). Reads the database only.' })
  async vms(
    @Ctx() { em, loaders }: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'Page size from the start (or from `after`), 1-200; not with `last`.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from a previous page: the items after it.' }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page size from the end (or from `before`), 1-200: the items nearest it, still oldest first.' }) last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'Cursor from a previous page: the items before it.' }) before?: string | null,
    @Arg('filter', () => VmFilter, { nullable: true, description: 'Only the VMs matching every given field.' }) filter?: VmFilter | null,
  ) {
    const req = pageRequest(VM_KEYSET, { first, after, last, before }, info);
    // One statement reads the page with only the columns its selection needs, and the VMs' rules
    // when they are asked for (issue 16: one round trip per page); `portRules` below answers from
    // them. Whole rule rows also prime the loader, for a VM reached again deeper in the request.
    const node = fieldsAt(info, ['edges', 'node']);
    const ruleColumns = node.has('portRules') ? ruleColumnsFor(fieldsAt(info, ['edges', 'node', 'portRules'])) : null;
    const page = await vmPage(em, checkVmFilter(filter), req, selects(info, 'totalCount'), ruleColumns, vmColumnsFor(node));
    if (ruleColumns === RULE_COLUMNS) for (const { node } of page.edges) if (node.portRules) loaders.portRulesByVm.prime(node.id, node.portRules);
    return page;
  }

  @Authorized(Role.VIEWER)
  @Query(() => Vm, { nullable: true, description: 'One VM by id or by name (exactly one of the two), or null.' })
  async vm(
    @Ctx() { em }: GraphQLContext,
    @Arg('id', () => ID, { nullable: true, description: 'The VM id.' }) id?: string | null,
    @Arg('name', () => String, { nullable: true, description: 'The VM name.' }) name?: string | null,
  ) {
    if ((id == null) === (name == null)) throw badInput(id == null ? 'id' : 'name', 'give exactly one of id and name');
    if (id != null) return isUuid(id) ? vmRow(em, id) : null;
    // Only a valid VM name can name a VM (and PostgreSQL text cannot hold some of what can be sent).
    return /^[a-z0-9-]{1,63}$/.test(name!) ? vmRowByName(em, name!) : null;
  }

  // Not `async`: an async method returns a promise even for the page's own rows, and graphql-js then
  // completes every node through a promise (promiseForObject), which cost more than the rows' SQL.
  @FieldResolver(() => [PortRule], { description: 'Its port rules, by rule number.' })
  portRules(@Root() vm: Vm | VmRow | PlannedVm, @Ctx() { loaders }: GraphQLContext): PortRuleRow[] | Promise<PortRuleRow[]> {
    // a dry run's VM brings its would-be rules along (dry-run.ts)
    if ('plannedRules' in vm) return vm.plannedRules;
    // a page's row brings its rules along (vms above): answered at once, no promise per VM
    if ('portRules' in vm && Array.isArray(vm.portRules)) return vm.portRules;
    return loaders.portRulesByVm.load(vm.id);
  }

  @FieldResolver(() => String, { description: 'The name of the router it lives on (`routers`): its address and rules are that router\'s.' })
  router(@Root() vm: Vm | VmRow | PlannedVm): string {
    const r = (vm as { router: string | Ref<Router> }).router;
    return typeof r === 'string' ? r : r.unwrap().name;
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => Vm, { complexity: CHANGE_COST, description: 'Creates a VM and puts all its port rules on the router in one commit.' })
  async provisionVm(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('input', () => ProvisionVmInput, { description: 'The VM and its port rules.' }) input: ProvisionVmInput,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: DRY_RUN }) dryRun: boolean | null,
  ) {
    const spec = validateProvision(input);
    const claim = claimFor(spec.idempotencyKey, 'provisionVm', { ...spec, idempotencyKey: undefined });
    const retention = ctx.app.config.idempotencyRetentionMs;
    // A replay needs neither the queue nor the router; the change set checks again under the lock.
    const earlier = claim && !dryRun ? await findEarlier(ctx.em, claim, retention) : null;
    if (earlier) return loadVm(ctx.em, earlier.resultRef);
    // The key lives in idempotency_key now, not in vm.idempotency_key (idempotency.ts).
    const set = idempotent(provisionVm({ ...spec, idempotencyKey: null }), claim, retention, byId);
    return runChange(ctx, info, dryRun, set, loadVm, plannedVm, await ctx.app.fleet.place(ctx.em, routerNameArg('input.router', input.router)));
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => ID, { complexity: CHANGE_COST, description: 'Removes the VM and all its rules from the router and the database; returns its id.' })
  async decommissionVm(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('id', () => ID, { description: 'The VM to remove.' }) id: string,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false, description: DRY_RUN }) dryRun: boolean | null,
  ) {
    return runChange(ctx, info, dryRun, decommissionVm(id), asId, asId, await ctx.app.fleet.forVm(ctx.em, id));
  }
}

export async function loadVm(em: GraphQLContext['em'], id: string): Promise<VmRow> {
  const vm = await vmRow(em, id);
  if (!vm) throw notFound('VM', id);
  return vm;
}
