// Start-up recovery (design.md "Crash safety"): operations a dead process left unfinished are
// settled against the database, which is the truth: its transaction either committed or not.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { Operation, OperationState, PortRule, RollbackOutcome, RollbackStage } from '../domain/entities/index.js';
import { expectedRouterRule } from '../domain/rule-mapping.js';
import type { Logger } from '../observability/logger.js';
import { commandsToConfigJson } from '../vyos/config-json.js';
import { NAT_DESTINATION_PATH, parseNatDestination, touchedRuleNumbers } from '../vyos/nat-rule.js';
import type { RouterApi, RouterRule } from '../vyos/types.js';
import { byRuleNumber, planCommands, verifyIntents, type RuleIntent } from './change-plan.js';
import type { Coordinator } from './coordinator.js';

export interface RecoveryDeps {
  orm: MikroORM;
  router: RouterApi;
  config: Config;
  logger: Logger;
  coordinator: Coordinator;
  /** how often to re-read the router while waiting for its own revert */
  pollMs?: number;
}

export type Settlement = 'completed' | 'auto-reverted' | 'not-applied' | 'reverted' | 'failed';

export interface Settled {
  id: string;
  operation: string;
  state: OperationState;
  settlement: Settlement;
}

/** The rules the batch set, as they would be on the router had it applied (pure). */
export function stateAfter(op: Pick<Operation, 'commands'>): Map<number, RouterRule> {
  return byRuleNumber(parseNatDestination(commandsToConfigJson(op.commands, NAT_DESTINATION_PATH)));
}

/** Settles every unfinished operation, holding the router lock so no new batch runs meanwhile. */
export async function recoverUnfinished(deps: RecoveryDeps): Promise<Settled[]> {
  const { orm, logger } = deps;
  const unfinished = await orm.em.fork().find(Operation, { state: { $in: [OperationState.PENDING, OperationState.ROUTER_COMMITTED, OperationState.CONFIRMED] } }, { orderBy: { createdAt: 'asc' } });
  if (unfinished.length === 0) return [];
  logger.warn({ operations: unfinished.map((o) => ({ id: o.id, operation: o.operation, state: o.state })) }, 'found operations a previous process left unfinished; settling them');
  return deps.coordinator.exclusive(async () => {
    const settled: Settled[] = [];
    for (const op of unfinished) {
      // A live replica finishes its batch before releasing the lock; re-check under the lock.
      const fresh = await orm.em.fork().findOne(Operation, { id: op.id });
      if (!fresh || ![OperationState.PENDING, OperationState.ROUTER_COMMITTED, OperationState.CONFIRMED].includes(fresh.state)) continue;
      const settlement = await settle(deps, fresh);
      settled.push({ id: fresh.id, operation: fresh.operation, state: fresh.state, settlement });
      logger.warn({ operationId: fresh.id, operation: fresh.operation, state: fresh.state, settlement }, 'settled an unfinished operation');
    }
    return settled;
  });
}

async function databaseIntents(orm: MikroORM, config: Config, ruleNumbers: number[]): Promise<RuleIntent[]> {
  const rows = await orm.em.fork().find(PortRule, { ruleNumber: { $in: ruleNumbers } }, { populate: ['vm'] });
  const byNumber = new Map(rows.map((r) => [r.ruleNumber, r]));
  return ruleNumbers.map((n) => {
    const row = byNumber.get(n);
    return { ruleNumber: n, desired: row ? expectedRouterRule(row, row.vm.getEntity(), config.wanInterface) : null };
  });
}

async function readRules(router: RouterApi): Promise<Map<number, RouterRule>> {
  return byRuleNumber(parseNatDestination(await router.showConfig([...NAT_DESTINATION_PATH])));
}

async function settle(deps: RecoveryDeps, op: Operation): Promise<Settlement> {
  const { orm, router, config, coordinator } = deps;
  const touched = touchedRuleNumbers(op.commands);
  const intents = await databaseIntents(orm, config, touched);
  const after = stateAfter(op);
  const committed = verifyIntents(intents, after).length === 0;
  const finish = (state: OperationState, error: string | null = null) =>
    orm.em.fork().nativeUpdate(Operation, { id: op.id }, { state, error, updatedAt: new Date() });

  if (committed) {
    // The database has the change, so the router confirmed it before the process died.
    await finish(OperationState.DONE);
    return 'completed';
  }

  // The database never committed: the router must end up as the database says.
  const deadline = op.confirmDeadline?.getTime() ?? 0;
  let now = await readRules(router);
  const sawChange = verifyIntents(intents, now).length > 0;
  while (verifyIntents(intents, now).length > 0 && Date.now() < deadline + 10_000) {
    // An unconfirmed commit-confirm reverts by itself at the deadline: wait for it.
    await new Promise((r) => setTimeout(r, deps.pollMs ?? 1000));
    now = await readRules(router);
  }
  const stage = op.state === OperationState.CONFIRMED ? RollbackStage.DATABASE_COMMIT : op.state === OperationState.ROUTER_COMMITTED ? RollbackStage.ROUTER_CONFIRM : RollbackStage.ROUTER_COMMIT;
  const event = { operation: op.operation, commands: op.commands };
  if (verifyIntents(intents, now).length === 0) {
    // The router dropped the change by itself when we watched it go, or when it had reported the commit.
    const reverted = deadline > 0 && (sawChange || op.state !== OperationState.PENDING);
    await finish(OperationState.ROLLED_BACK, 'process died; the router no longer has the change');
    await coordinator.record(event, stage, `the process died during the change; ${reverted ? 'the router reverted the unconfirmed commit by itself' : 'the change never reached the router'}`, reverted ? RollbackOutcome.AUTO_REVERTED : RollbackOutcome.ROLLED_BACK);
    return reverted ? 'auto-reverted' : 'not-applied';
  }
  try {
    await router.configure(planCommands(intents, now, (await router.capabilities()).syntax));
    if (deadline > 0) await router.confirm().catch(() => undefined);
    const check = await readRules(router);
    if (verifyIntents(intents, check).length > 0) throw new Error('router still differs from the database after the undo');
    await finish(OperationState.ROLLED_BACK, 'process died; change undone at start-up');
    await coordinator.record(event, stage, 'the process died during the change; undone on the router at start-up', RollbackOutcome.ROLLED_BACK);
    return 'reverted';
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    await finish(OperationState.ROLLBACK_FAILED, reason);
    await orm.em.fork().execute('update port_rule set needs_repair = true where rule_number = any(?::int[])', [`{${touched.join(',')}}`]);
    await coordinator.record(event, stage, `the process died during the change; undoing it at start-up failed: ${reason}`, RollbackOutcome.ROLLBACK_FAILED);
    return 'failed';
  }
}
