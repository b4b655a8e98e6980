// The database side of the router transaction (the router side is RouterApi): the router lock,
// the batch transaction, the journal, rollback events, snapshot rows and `needs_repair`. The
// runner (transaction.ts) is the only code that holds both this and the router.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config, HairpinSettings } from '../config.js';
import { hairpinOf, isTwinNumber, twinOf } from '../domain/hairpin.js';
import { FINISHED_STATES, Operation, claimRange, OperationState, PortRule, RollbackEvent, RouterState, Snapshot, type RollbackOutcome, type RollbackStage } from '../domain/entities/index.js';
import type { Protocol } from '../domain/entities/protocol.js';
import { expectedRouterRule } from '../domain/rule-mapping.js';
import type { ExpectedRule } from '../drift/drift-diff.js';
import type { RouterCommand } from '../vyos/types.js';
import { addAffected, addResultIds } from '../domain/audit-facts.js';
import { insertAuditRows, type AuditRow } from './audit-trail.js';
import type { RuleIntent } from './change-plan.js';
import { Mutex } from './mutex.js';

/** One journal row (design.md "Crash safety"), as the runner and recovery see it. */
export interface JournalRow {
  id: string;
  operation: string;
  state: OperationState;
  commands: RouterCommand[];
  confirmDeadline: Date | null;
  createdAt: Date;
  /** why it failed, when it did */
  error?: string | null;
}

export interface RollbackRecord {
  operation: string;
  stage: RollbackStage;
  reason: string;
  outcome: RollbackOutcome;
  commands: RouterCommand[];
}

export interface SnapshotRecord {
  slot: number;
  file: string;
  reason: string;
  operation: string | null;
}

/** The batch's database transaction; every change set works in a savepoint of it. */
export interface BatchTx {
  readonly em: EntityManager;
  /** one change set's work: a failure rolls back that change set alone */
  savepoint<T>(fn: (em: EntityManager) => Promise<T>): Promise<T>;
  /** the current database state of these rule numbers, as the router should hold them */
  intentsFor(ruleNumbers: readonly number[]): Promise<RuleIntent[]>;
  /** a journal row as it is now (under the lock: nobody else is moving it) */
  journalRow(id: string): Promise<JournalRow | null>;
  /** journal states that must commit with the batch's data (DONE, a settled entry) */
  markJournal(id: string, state: OperationState, error?: string | null): Promise<void>;
  clearNeedsRepair(ruleNumbers: readonly number[]): Promise<void>;
  /** the slot the next snapshot goes to (one past the newest, wrapping at `keep`) */
  nextSnapshotSlot(keep: number): Promise<number>;
  recordSnapshot(s: SnapshotRecord, keep: number): Promise<Snapshot>;
  /** a save is owed once this transaction commits (the save stage clears it): a stopped process's is made by the next catch-up */
  markSaveOwed(): Promise<void>;
  /** committed changes' audit rows, in this transaction; the rules' and results' ids are added to what each row names */
  recordAudit?(entries: AuditEntry[]): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** A committed change set's audit row, with what it made and touched. */
export interface AuditEntry {
  row: AuditRow;
  result: unknown;
  ruleNumbers: number[];
}

export interface ChangeStore {
  /** the router whose transaction domain this is */
  readonly router: string;
  /** whether journal rows are kept (the embedded database keeps none: it lives and dies with us) */
  readonly journalled: boolean;
  /** the router lock for a whole batch, across replicas; resolves to its release */
  lockRouter(): Promise<() => Promise<void>>;
  begin(): Promise<BatchTx>;
  /** `fn` in a read-only transaction under the router lock: no batch is in flight meanwhile */
  consistentRead<T>(fn: (em: EntityManager) => Promise<T>): Promise<T>;
  /** writes a PENDING journal row in its own short transaction; null when not journalled */
  startJournal(operation: string, commands: RouterCommand[], inverse: RouterCommand[], confirmDeadline: Date | null): Promise<string | null>;
  /** a journal state in its own short transaction, so a restarted process finds it */
  markJournal(id: string, state: OperationState, error?: string | null): Promise<void>;
  /** entries whose outcome is not settled: unfinished by a dead process, or an undo still owed */
  unsettled(): Promise<JournalRow[]>;
  markNeedsRepair(ruleNumbers: readonly number[]): Promise<void>;
  saveRollback(r: RollbackRecord): Promise<{ id: string; at: Date }>;
  /** the outcome of a save of the router's running config to its boot config */
  recordSave(outcome: { ok: true } | { ok: false; error: string }): Promise<void>;
  /** null when the router's running config is saved (as far as this server knows) */
  unsaved(): Promise<UnsavedState | null>;
  /** a committed batch's save is not made yet (in flight, or left by a process that stopped first) */
  saveOwed(): Promise<boolean>;
}

export interface UnsavedState {
  since: Date;
  error: string | null;
}

export const UNSETTLED_STATES = Object.values(OperationState).filter((s) => !FINISHED_STATES.includes(s));

const intArray = (numbers: readonly number[]) => `{${numbers.join(',')}}`;

function toJournalRow(o: Operation): JournalRow {
  return { id: o.id, operation: o.operation, state: o.state, commands: o.commands, confirmDeadline: o.confirmDeadline ?? null, createdAt: o.createdAt, error: o.error ?? null };
}

/** "this port_rule row has a hairpin twin": its own `hairpin`, else VYOS_HAIRPIN_DEFAULT; never without VYOS_HAIRPIN. */
const hasTwin = (s: HairpinSettings | null) => (s ? `coalesce(hairpin, ${s.byDefault})` : 'false');

/** Which of `ruleNumbers` are port rules with a hairpin twin. */
export async function hairpinnedRules(em: EntityManager, router: string, ruleNumbers: readonly number[], s: HairpinSettings): Promise<Set<number>> {
  if (ruleNumbers.length === 0) return new Set();
  const rows = await em.execute<{ rule_number: number }[]>(`select rule_number from port_rule where router = ? and rule_number = any(?::int[]) and ${hasTwin(s)}`, [router, intArray(ruleNumbers)]);
  return new Set(rows.map((r) => r.rule_number));
}

/** Whether any port rule is enabled, and whether any enabled one has a hairpin twin (what the owned rules follow). */
export async function enabledRules(em: EntityManager, router: string, s: HairpinSettings | null): Promise<{ any: boolean; twins: boolean }> {
  const [row] = await em.execute<{ any: boolean; twins: boolean }[]>(
    `select exists (select 1 from port_rule where router = ? and enabled) as "any", exists (select 1 from port_rule where router = ? and enabled and ${hasTwin(s)}) as "twins"`,
    [router, router],
  );
  return { any: row?.any ?? false, twins: row?.twins ?? false };
}

/** The database state of `ruleNumbers` as router rules (absent rows -> null, i.e. "no rule"). */
export async function intentsFor(em: EntityManager, rules: RuleSettings, ruleNumbers: readonly number[]): Promise<RuleIntent[]> {
  const s = rules.hairpin;
  // A hairpin twin's state is its rule's (VYOS_HAIRPIN): look the rule up.
  const base = (n: number) => (s && isTwinNumber(n, rules.natRuleRange, s) ? n - s.ruleOffset : n);
  const wanted = [...new Set(ruleNumbers.map(base))];
  const rows = wanted.length ? await em.find(PortRule, { router: { name: rules.routerName }, ruleNumber: { $in: wanted } }, { populate: ['vm'] }) : [];
  const byNumber = new Map(rows.map((r) => [r.ruleNumber, r]));
  return ruleNumbers.map((n) => {
    const row = byNumber.get(base(n));
    const desired = row ? expectedRouterRule(row, row.vm.getEntity(), rules.wanInterface) : null;
    if (base(n) === n) return { ruleNumber: n, desired };
    // a twin: its rule's, when the rule has one
    return { ruleNumber: n, desired: desired && hairpinOf(row!.hairpin, s) ? twinOf(desired, s!) : null };
  });
}

/** What turns a port rule into router rules: the WAN interface, and hairpin's twins (VYOS_HAIRPIN). */
export type RuleSettings = Pick<Config, 'wanInterface' | 'hairpin' | 'natRuleRange' | 'routerName'>;

// ---- bulk reads and writes change sets and drift make on the batch's (or a read's) connection ----

/** Every port rule of the database as the router should hold it (one query, no entities). */
export async function expectedRules(em: EntityManager, settings: RuleSettings): Promise<ExpectedRule[]> {
  const { wanInterface, hairpin } = settings;
  const rows: {
    id: string;
    rule_number: number;
    protocol: Protocol;
    external_port: number;
    internal_port: number;
    port_count: number;
    source_address: string | null;
    description: string | null;
    enabled: boolean;
    hairpin: boolean | null;
    vm_name: string;
    internal_ip: string;
  }[] = await em.execute(
    `select pr.id, pr.rule_number, pr.protocol, pr.external_port, pr.internal_port, pr.port_count, pr.source_address,
            pr.description, pr.enabled, pr.hairpin, v.name as vm_name, v.internal_ip
       from port_rule pr join vm v on v.id = pr.vm_id
      where pr.router = ?
      order by pr.rule_number`,
    [settings.routerName],
  );
  const rules: (ExpectedRule & { hairpin: boolean })[] = rows.map((r) => ({
    portRuleId: r.id,
    hairpin: hairpinOf(r.hairpin, hairpin),
    expected: expectedRouterRule(
      {
        ruleNumber: r.rule_number,
        protocol: r.protocol,
        externalPort: r.external_port,
        internalPort: r.internal_port,
        portCount: r.port_count,
        sourceAddress: r.source_address,
        description: r.description,
        enabled: r.enabled,
      },
      { name: r.vm_name, internalIp: r.internal_ip },
      wanInterface,
    ),
  }));
  // Each rule's hairpin twin is ours too (drift, reconcile): `twin` keeps it out of the shadow check.
  return rules.flatMap(({ hairpin: twinned, ...r }) => (twinned ? [r, { portRuleId: r.portRuleId, expected: twinOf(r.expected, hairpin!), twin: true }] : [r]));
}

// ---- allocation: indexed probes from a maintained mark (issue 16), never a load of every value ----

/** A pool of values the database hands out (allocation_mark.ts says what a mark promises). */
export type Pool = 'rule_number' | 'tcp_port' | 'udp_port' | 'lan_address';

// "n is not in use": one index probe each (unique columns; for ports the exclusion constraints'
// GiST index on the range each rule claims, port-rule.ts).
// Each takes the router's name as its first parameter.
const NOT_USED: Record<Pool, string> = {
  rule_number: 'not exists (select 1 from port_rule p where p.router = ? and p.rule_number = n)',
  tcp_port: `not exists (select 1 from port_rule p where p.router = ? and ${claimRange('tcp_port', 'p')} @> n::int and p.id is distinct from ?::uuid)`,
  udp_port: `not exists (select 1 from port_rule p where p.router = ? and ${claimRange('udp_port', 'p')} @> n::int and p.id is distinct from ?::uuid)`,
  lan_address: "not exists (select 1 from vm v where v.router = ? and v.internal_ip = host('0.0.0.0'::inet + n))",
};

/** A router's pool's row in allocation_mark (the freeing triggers build the same key). */
const markKey = (router: string, pool: Pool) => `${router}:${pool}`;

/** Where the search in `pool` starts: its mark, when it was set for this range, else the range's first value. */
export async function poolStart(em: EntityManager, router: string, pool: Pool, first: number): Promise<number> {
  const [row] = await em.execute<{ first: string; mark: string }[]>('select first, mark from allocation_mark where pool = ?', [markKey(router, pool)]);
  return row && Number(row.first) === first ? Math.max(first, Number(row.mark)) : first;
}

/**
 * Up to `limit` values from `start` to `last`, ascending, that no row uses in any of `pools`.
 * The series is produced lazily (a set-returning function in the select list), so the query
 * stops at the limit: its cost is the values it steps over, not the size of the pool.
 * `ignoreRule`: a port rule whose own port claims do not count (it is being changed).
 */
export async function unusedValues(em: EntityManager, router: string, pools: Pool[], start: number, last: number, limit: number, ignoreRule: string | null = null): Promise<number[]> {
  if (start > last) return [];
  const params: unknown[] = [start, last];
  const conds = pools.map((p) => {
    params.push(router);
    if (p === 'tcp_port' || p === 'udp_port') params.push(ignoreRule);
    return NOT_USED[p];
  });
  params.push(limit);
  const rows = await em.execute<{ n: string }[]>(
    `select n from (select generate_series(?::bigint, ?::bigint) as n) s where ${conds.join(' and ')} limit ?`,
    params,
  );
  return rows.map((r) => Number(r.n));
}

/** Moves `pool`'s mark (for the range starting at `first`) in the caller's transaction. */
export async function setPoolMark(em: EntityManager, router: string, pool: Pool, first: number, mark: number): Promise<void> {
  await em.execute(
    'insert into allocation_mark (pool, first, mark) values (?, ?, ?) on conflict (pool) do update set first = excluded.first, mark = excluded.mark',
    [markKey(router, pool), first, mark],
  );
}

/** Port rule numbers among `numbers` that the database holds. */
export async function heldRuleNumbers(em: EntityManager, router: string, numbers: number[]): Promise<Set<number>> {
  if (numbers.length === 0) return new Set();
  const rows = await em.execute<{ rule_number: number }[]>('select rule_number from port_rule where router = ? and rule_number = any(?::int[])', [router, `{${numbers.join(',')}}`]);
  return new Set(rows.map((r) => r.rule_number));
}

/** Whether a rule other than `ignoreRule` claims one of `count` ports from `port` for one of the transports `want`. */
export async function portClaimed(em: EntityManager, router: string, want: { tcp: boolean; udp: boolean }, port: number, count: number, ignoreRule: string | null): Promise<boolean> {
  const conds = [...(want.tcp ? [`${claimRange('tcp_port')} && int4range(?, ?)`] : []), ...(want.udp ? [`${claimRange('udp_port')} && int4range(?, ?)`] : [])];
  if (conds.length === 0) return false;
  const [row] = await em.execute<{ taken: boolean }[]>(
    `select exists (select 1 from port_rule where router = ? and (${conds.join(' or ')}) and id is distinct from ?::uuid) as taken`,
    [router, ...conds.flatMap(() => [port, port + count]), ignoreRule],
  );
  return row?.taken ?? false;
}

/** Rule numbers and the external ports each rule claims per transport (port_count of them from each start). */
export function portClaims(em: EntityManager, router: string): Promise<{ rule_number: number; tcp_port: number | null; udp_port: number | null; port_count: number }[]> {
  return em.execute('select rule_number, tcp_port, udp_port, port_count from port_rule where router = ?', [router]);
}

/** Every VM's id, name and internal address. */
export function vmAddresses(em: EntityManager, router: string): Promise<{ id: string; name: string; internal_ip: string }[]> {
  return em.execute('select id, name, internal_ip from vm where router = ?', [router]);
}

/** How many journal rows are not settled (owed undos, or rows a dead process left). */
export async function unsettledCount(em: EntityManager, router: string): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>('select count(*)::int as n from operation where router = ? and state = any(?::text[])', [router, `{${UNSETTLED_STATES.join(',')}}`]);
  return row?.n ?? 0;
}

/** The router's save state on `em` (a consistent read's transaction): null when saved. */
export async function unsavedState(em: EntityManager, routerName: string): Promise<UnsavedState | null> {
  const row = await em.findOne(RouterState, { router: routerName });
  return row?.unsavedSince ? { since: row.unsavedSince, error: row.saveError ?? null } : null;
}

/** After a repair: every flagged rule is clear except those that will still differ. */
export async function settleNeedsRepair(em: EntityManager, router: string, stillWrong: readonly number[]): Promise<void> {
  await em.execute(
    `update port_rule set needs_repair = false where router = ? and needs_repair${stillWrong.length > 0 ? ' and rule_number not in (?)' : ''}`,
    stillWrong.length > 0 ? [router, [...stillWrong]] : [router],
  );
}

class DatabaseBatchTx implements BatchTx {
  private open = true;
  constructor(
    readonly em: EntityManager,
    private readonly rules: RuleSettings,
    private readonly journalled: boolean,
  ) {}

  savepoint<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.em.transactional(fn);
  }

  intentsFor(ruleNumbers: readonly number[]): Promise<RuleIntent[]> {
    return intentsFor(this.em, this.rules, ruleNumbers);
  }

  async journalRow(id: string): Promise<JournalRow | null> {
    if (!this.journalled) return null;
    const row = await this.em.findOne(Operation, { id }, { refresh: true });
    return row ? toJournalRow(row) : null;
  }

  async markJournal(id: string, state: OperationState, error: string | null = null): Promise<void> {
    if (!this.journalled) return;
    await this.em.nativeUpdate(Operation, { id }, { state, error, updatedAt: new Date() });
  }

  async markSaveOwed(): Promise<void> {
    await this.em.execute(
      `insert into router_state (router, save_owed_since) values (?, now())
         on conflict (router) do update set save_owed_since = coalesce(router_state.save_owed_since, excluded.save_owed_since)`,
      [this.rules.routerName],
    );
  }

  async clearNeedsRepair(ruleNumbers: readonly number[]): Promise<void> {
    if (ruleNumbers.length === 0) return;
    await this.em.execute('update port_rule set needs_repair = false where router = ? and needs_repair and rule_number = any(?::int[])', [this.rules.routerName, intArray(ruleNumbers)]);
  }

  async nextSnapshotSlot(keep: number): Promise<number> {
    const [newest] = await this.em.find(Snapshot, { router: this.rules.routerName }, { orderBy: { createdAt: 'desc' }, limit: 1 });
    return newest ? ((newest.slot % keep) + 1) % keep : 0;
  }

  async recordSnapshot(s: SnapshotRecord, keep: number): Promise<Snapshot> {
    // The oldest record in that slot is replaced; slots left over from a larger SNAPSHOT_KEEP go too.
    await this.em.nativeDelete(Snapshot, { router: this.rules.routerName, $or: [{ slot: s.slot }, { slot: { $gte: keep } }] });
    const snapshot = this.em.create(Snapshot, { ...s, router: this.rules.routerName });
    await this.em.flush();
    return snapshot;
  }

  async recordAudit(entries: AuditEntry[]): Promise<void> {
    const numbers = [...new Set(entries.flatMap((e) => e.ruleNumbers))];
    const rules = numbers.length ? await this.em.execute<{ id: string; vm_id: string; rule_number: number }[]>('select id, vm_id, rule_number from port_rule where router = ? and rule_number = any(?::int[])', [this.rules.routerName, intArray(numbers)]) : [];
    for (const { row, result, ruleNumbers } of entries) {
      addResultIds(row.affected, row.operation, result);
      for (const r of rules.filter((x) => ruleNumbers.includes(x.rule_number))) {
        addAffected(row.affected, 'portRuleIds', r.id);
        addAffected(row.affected, 'vmIds', r.vm_id);
      }
    }
    await insertAuditRows(this.em, entries.map((e) => e.row));
  }

  async commit(): Promise<void> {
    this.open = false;
    await this.em.commit();
  }

  async rollback(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.em.rollback();
  }
}

export class DatabaseChangeStore implements ChangeStore {
  /** batches and consistent reads of this process, in turn */
  private readonly local = new Mutex();
  private readonly lockKey: string;

  constructor(
    private readonly orm: MikroORM,
    private readonly opts: { rules: RuleSettings; /** a single-session database: one process, no journal */ singleSession: boolean },
  ) {
    this.lockKey = `vyos-vm-api:router:${opts.rules.routerName}`;
  }

  /** the router this store's batches are for */
  get router(): string {
    return this.opts.rules.routerName;
  }

  get journalled(): boolean {
    return !this.opts.singleSession;
  }

  async lockRouter(): Promise<() => Promise<void>> {
    const releaseLocal = await this.local.acquire();
    if (this.opts.singleSession) return async () => releaseLocal();
    try {
      // A session lock on a connection of its own: it stays held while the batch transaction
      // commits or rolls back, until the router is known to agree with the database.
      const knex = this.orm.em.getConnection().getKnex();
      const conn = await knex.client.acquireConnection();
      try {
        await conn.query('select pg_advisory_lock(hashtext($1))', [this.lockKey]);
      } catch (e) {
        await knex.client.releaseConnection(conn);
        throw e;
      }
      return async () => {
        try {
          await conn.query('select pg_advisory_unlock(hashtext($1))', [this.lockKey]);
        } finally {
          await knex.client.releaseConnection(conn);
          releaseLocal();
        }
      };
    } catch (e) {
      releaseLocal();
      throw e;
    }
  }

  async begin(): Promise<BatchTx> {
    const em = this.orm.em.fork();
    await em.begin();
    return new DatabaseBatchTx(em, this.opts.rules, this.journalled);
  }

  async consistentRead<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    const releaseLocal = await this.local.acquire();
    try {
      return await this.orm.em.fork().transactional(async (em) => {
        // Conflicts with the session lock a batch of any replica holds.
        if (!this.opts.singleSession) await em.execute('select pg_advisory_xact_lock(hashtext(?))', [this.lockKey]);
        return fn(em);
      });
    } finally {
      releaseLocal();
    }
  }

  async startJournal(operation: string, commands: RouterCommand[], inverse: RouterCommand[], confirmDeadline: Date | null): Promise<string | null> {
    if (!this.journalled) return null;
    // One INSERT, committed by itself: a flush would wrap it in BEGIN and COMMIT, two more round trips.
    const row = Object.assign(new Operation(), { router: this.router, operation, state: OperationState.PENDING, commands, inverse, confirmDeadline });
    await this.orm.em.fork().insert(row);
    return row.id;
  }

  async markJournal(id: string, state: OperationState, error: string | null = null): Promise<void> {
    if (!this.journalled) return;
    await this.orm.em.fork().nativeUpdate(Operation, { id }, { state, error, updatedAt: new Date() });
  }

  async unsettled(): Promise<JournalRow[]> {
    if (!this.journalled) return [];
    const rows = await this.orm.em.fork().find(Operation, { router: this.router, state: { $in: UNSETTLED_STATES } }, { orderBy: { createdAt: 'asc' } });
    return rows.map(toJournalRow);
  }

  async markNeedsRepair(ruleNumbers: readonly number[]): Promise<void> {
    if (ruleNumbers.length === 0) return;
    await this.orm.em.fork().execute('update port_rule set needs_repair = true where router = ? and rule_number = any(?::int[])', [this.router, intArray(ruleNumbers)]);
  }

  async recordSave(outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    const em = this.orm.em.fork();
    const now = new Date();
    if (outcome.ok) {
      await em.upsert(RouterState, { router: this.router, unsavedSince: null, saveError: null, savedAt: now, saveOwedSince: null });
      return;
    }
    // The first failure dates the unsaved state; later ones only refresh the reason. The save is
    // no longer owed by a batch: the unsaved state and its retries carry it.
    await em.execute(
      `insert into router_state (router, unsaved_since, save_error) values (?, ?, ?)
         on conflict (router) do update set unsaved_since = coalesce(router_state.unsaved_since, excluded.unsaved_since), save_error = excluded.save_error, save_owed_since = null`,
      [this.router, now, outcome.error],
    );
  }

  async unsaved(): Promise<UnsavedState | null> {
    return unsavedState(this.orm.em.fork(), this.router);
  }

  async saveOwed(): Promise<boolean> {
    const row = await this.orm.em.fork().findOne(RouterState, { router: this.router });
    return Boolean(row?.saveOwedSince);
  }

  async saveRollback(r: RollbackRecord): Promise<{ id: string; at: Date }> {
    const em = this.orm.em.fork();
    const event = em.create(RollbackEvent, { ...r, router: this.router });
    await em.flush();
    return { id: event.id, at: event.at };
  }
}
