// Dry runs of mutations that keep their return type (docs/api-reference.md "Dry runs"): the
// object comes back as it would be, read inside the transaction that is then rolled back, and
// the plan goes in the response's `extensions.dryRun` as [{ path, commands }], one entry per
// dry-run field of the operation.
import type { ApolloServerPlugin } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ExecutionResult, GraphQLResolveInfo } from 'graphql';
import { responsePathAsArray } from 'graphql';
import type { ChangeSet } from '../changes/change-set.js';
import { dryRunOf } from '../changes/dry-run.js';
import type { RouterUnit } from '../fleet/router-unit.js';
import type { RouterCommand } from '../vyos/types.js';
import type { GraphQLContext } from './context.js';
import { portRuleRow, vmPortRuleRows, vmRow, type PortRuleRow, type VmRow } from './read-model.js';

/** A VM as a dry run would leave it, its rules with it (they may exist in no committed row). */
export interface PlannedVm extends VmRow {
  plannedRules: PlannedRule[];
}
export interface PlannedRule extends PortRuleRow {
  plannedVm: PlannedVm;
}

export interface DryRunPlan {
  path: (string | number)[];
  commands: { op: string; path: string[] }[];
}

export async function plannedVm(em: EntityManager, id: string): Promise<PlannedVm | null> {
  const vm = await vmRow(em, id);
  if (!vm) return null;
  const planned: PlannedVm = { ...vm, plannedRules: [] };
  planned.plannedRules = (await vmPortRuleRows(em, id)).map((r) => ({ ...r, plannedVm: planned }));
  return planned;
}

export async function plannedRule(em: EntityManager, id: string): Promise<PlannedRule | null> {
  const rule = await portRuleRow(em, id);
  const vm = rule ? await plannedVm(em, rule.vmId) : null;
  return vm?.plannedRules.find((r) => r.id === id) ?? null;
}

/** Notes a dry-run field's plan for the response extensions. */
export function reportDryRun(ctx: GraphQLContext, info: GraphQLResolveInfo, commands: readonly RouterCommand[]): void {
  (ctx.dryRuns ??= []).push({ path: responsePathAsArray(info.path), commands: commands.map((c) => ({ op: c.op, path: [...c.path] })) });
}

/** The result with the operation's dry-run plans in `extensions.dryRun` (HTTP and WebSocket). */
export function withDryRuns<R extends Pick<ExecutionResult, 'extensions'>>(result: R, ctx: GraphQLContext): R {
  if (!ctx.dryRuns?.length) return result;
  return { ...result, extensions: { ...result.extensions, dryRun: ctx.dryRuns } };
}

export function dryRunPlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single' || !contextValue.dryRuns?.length) return;
          response.body.singleResult = withDryRuns(response.body.singleResult, contextValue);
        },
      };
    },
  };
}

/**
 * Runs a change set whose result is an id: for real (then `load` reads the committed object), or
 * as a dry run (then `planned` reads it inside the rolled-back transaction, and the plan is noted
 * for the response extensions).
 */
export async function runChange<R>(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  dryRun: boolean | null | undefined,
  set: ChangeSet<string>,
  load: (em: EntityManager, id: string) => Promise<R>,
  planned: (em: EntityManager, id: string) => Promise<R | null> = load,
  /** the router's unit the change belongs to (fleet.ts routes it); the environment's by default */
  unit: RouterUnit = ctx.app.fleet.home,
): Promise<R> {
  if (!dryRun) return load(ctx.em, await unit.coordinator.submit(set));
  const run = await unit.coordinator.submit(dryRunOf(set, planned));
  reportDryRun(ctx, info, run.commands);
  if (run.value === null) throw new Error(`dry run of ${set.operation}: ${run.result} not found in its own transaction`);
  return run.value;
}

/** For mutations that answer with the id itself. */
export const asId = async (_em: EntityManager, id: string) => id;

/** The `dryRun` argument's description, the same on every router-changing mutation. */
export const DRY_RUN =
  'Plan only: the answer is the object as the change would leave it, the exact router commands are in the response\'s `extensions.dryRun`, and nothing is changed on the router or in the database.';
