// The routers this process drives (docs/operations.md "A fleet of routers"): one RouterUnit per
// router row, the environment's first. Changes are routed to the unit of the router their VM,
// rule or snapshot lives on; new VMs are placed. The router table is the truth every replica
// follows: `refresh` (on a timer, and at once after this replica's own register/update/retire)
// starts units for new rows, restarts those whose row changed and stops those retired. Routers
// another environment configures are left to the server configured with them.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { Router, RouterLifecycle } from '../domain/entities/index.js';
import { conflict, notFound, routerUnavailable } from '../domain/errors.js';
import { CapacityPool } from '../observability/capacity.js';
import { readKey, routerConfig } from './router-config.js';
import { RouterUnit, type UnitShared } from './router-unit.js';

const sameUrl = (a: string | null, b: string | null) => a !== null && b !== null && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** How often a replica looks for routers registered, changed or retired by another. */
export const FLEET_REFRESH_MS = 5000;

interface Running {
  unit: RouterUnit;
  /** the row's updated_at the unit was built from */
  version: number;
}

export class Fleet {
  private readonly running = new Map<string, Running>();
  /** rows a unit could not be built from, by the version that failed: said once, retried quietly */
  private readonly unusable = new Map<string, number>();
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly base: Config,
    private readonly shared: UnitShared,
    /** the environment's router (ROUTER_NAME): always driven, built from the environment */
    readonly home: RouterUnit,
  ) {
    shared.shouldYield = (router) => this.shouldYield(router);
  }

  /**
   * Balancing the background sync over replicas: a replica leading more than its share
   * (ceil(leaderships / replicas), counted from the election connections' granted advisory
   * locks) hands over its last router by name, one per run.
   */
  private async shouldYield(router: string): Promise<boolean> {
    const mine = this.units().filter((u) => u.syncJob.status().leader).map((u) => u.name).sort();
    if (mine.length < 2 || mine[mine.length - 1] !== router || !this.shared.replicaId) return false;
    const rows = await this.shared.orm.em.fork().execute<{ leads: number }[]>(
      `select count(l.pid)::int as leads from pg_stat_activity a
         left join pg_locks l on l.pid = a.pid and l.locktype = 'advisory' and l.granted
        where a.datname = current_database() and a.application_name like 'vyos-vm-api sync-job %'
        group by a.application_name`,
    );
    const total = rows.reduce((n, r) => n + r.leads, 0);
    return rows.length > 1 && mine.length > Math.ceil(total / rows.length);
  }

  /** Every unit, the environment's first, then by name. */
  units(): RouterUnit[] {
    return [this.home, ...[...this.running.values()].map((r) => r.unit).sort((a, b) => (a.name < b.name ? -1 : 1))];
  }

  /** Starts every registered router's unit and keeps following the router table. */
  async start(): Promise<void> {
    this.home.start();
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), FLEET_REFRESH_MS);
    this.timer.unref();
  }

  /** Makes the running units match the router table (one refresh at a time; callers share it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.sync().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    let rows: Router[];
    try {
      // Another environment's router (another deployment's ROUTER_NAME, or this one's former name)
      // is driven by the server that configures it, never by a second one.
      rows = await this.shared.orm.em.fork().find(Router, { name: { $ne: this.home.name }, fromEnv: false });
    } catch (e) {
      this.shared.logger.warn({ err: e }, 'fleet: could not read the router table; the running routers stay as they are');
      return;
    }
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.name);
      const version = row.updatedAt.getTime();
      const now = this.running.get(row.name);
      if (now && now.version === version) continue;
      if (now) await this.retire(row.name, 'its row changed');
      const unit = this.build(row, this.unusable.get(row.name) === version);
      if (!unit) this.unusable.set(row.name, version);
      if (!unit || this.stopped) continue;
      this.unusable.delete(row.name);
      this.running.set(row.name, { unit, version });
      unit.start();
      this.shared.logger.info({ router: row.name }, now ? 'fleet: router updated, driving it with its new settings' : 'fleet: driving router');
    }
    for (const name of [...this.unusable.keys()]) if (!seen.has(name)) this.unusable.delete(name);
    for (const name of [...this.running.keys()]) {
      if (seen.has(name)) continue;
      await this.retire(name, 'it was retired');
      await this.shared.metrics.forgetRouter(name);
    }
  }

  /** `quiet`: this version failed before (a key file may yet appear): retry without another error line */
  private build(row: Router, quiet: boolean): RouterUnit | null {
    try {
      if (!row.url) throw new Error('it has no URL');
      // The environment's router under a second name: one router, one unit.
      if (sameUrl(row.url, this.home.config.vyosUrl)) throw new Error(`it has the URL of the environment's router ${this.home.name}`);
      const key = readKey(row.keyRef ?? '');
      return new RouterUnit(routerConfig(this.base, row, key), this.shared, { registered: true });
    } catch (e) {
      // Not fatal for the others: this router's changes answer ROUTER_UNAVAILABLE until it is fixed.
      if (quiet) this.shared.logger.debug({ router: row.name, err: e }, 'fleet: still cannot drive router');
      else this.shared.logger.error({ router: row.name, err: e }, 'fleet: cannot drive router');
      return null;
    }
  }

  private async retire(name: string, why: string): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    this.shared.logger.info({ router: name, why }, 'fleet: no longer driving router');
    await r.unit.stop();
    await r.unit.drained();
  }

  /** The unit of the router named so: NOT_FOUND when no such router is registered, ROUTER_UNAVAILABLE when this process cannot drive it. */
  async unit(name: string): Promise<RouterUnit> {
    if (name === this.home.name) return this.home;
    let r = this.running.get(name);
    if (!r) {
      await this.refresh();
      r = this.running.get(name);
    }
    if (r) return r.unit;
    const row = await this.shared.orm.em.fork().findOne(Router, { name });
    if (!row) throw notFound('router', name);
    // Another environment's router, or one whose credential this replica cannot read.
    throw routerUnavailable(`router ${name} is not driven by this server (${row.fromEnv ? 'another environment configures it' : 'its URL or credential reference is not usable here; the log says why'})`);
  }

  /** The unit that owns a VM (by id); the environment's when there is no such VM (the change set answers NOT_FOUND). */
  forVm(em: EntityManager, vmId: string): Promise<RouterUnit> {
    return this.owner(em, 'select router from vm where id = ?', vmId);
  }

  /** The unit that owns a VM (by name), or null when no VM has the name. */
  async forVmName(em: EntityManager, name: string): Promise<RouterUnit | null> {
    const [row] = await em.execute<{ router: string }[]>('select router from vm where name = ?', [name]);
    return row ? this.unit(row.router) : null;
  }

  forRule(em: EntityManager, ruleId: string): Promise<RouterUnit> {
    return this.owner(em, 'select router from port_rule where id = ?', ruleId);
  }

  forSnapshot(em: EntityManager, id: string): Promise<RouterUnit> {
    return this.owner(em, 'select router from snapshot where id = ?', id);
  }

  private async owner(em: EntityManager, sql: string, id: string): Promise<RouterUnit> {
    // A malformed id finds nothing here; the change set reports it as it always has.
    const [row] = await em.execute<{ router: string }[]>(sql, [id]).catch(() => []);
    return row ? this.unit(row.router) : this.home;
  }

  /** `router` given: that router (it must take new VMs). Omitted: the placement rule. */
  async place(em: EntityManager, router: string | null | undefined): Promise<RouterUnit> {
    if (router != null) {
      const row = await em.findOne(Router, { name: router });
      if (!row) throw notFound('router', router);
      if (row.lifecycle !== RouterLifecycle.ENABLED) throw conflict(`router ${router} is ${row.lifecycle.toLowerCase()}: it takes no new VMs`, { field: 'input.router', router });
      return this.unit(router);
    }
    return this.placement(em);
  }

  /**
   * The placement rule (docs/operations.md "Placement"): among the enabled routers this process
   * drives, the one with the most free LAN addresses; ties go to the environment's router, then
   * by name. One router: always it (while it is enabled).
   */
  private async placement(em: EntityManager): Promise<RouterUnit> {
    const enabled = new Set((await em.find(Router, { lifecycle: RouterLifecycle.ENABLED }, { fields: ['name'] })).map((r) => r.name));
    const candidates = this.units().filter((u) => enabled.has(u.name));
    if (!candidates.length) throw conflict('no router takes new VMs: every router is draining (docs/operations.md "A fleet of routers")');
    if (candidates.length === 1) return candidates[0];
    const free = await Promise.all(candidates.map(async (u) => (await u.capacity.read().catch(() => [])).find((p) => p.pool === CapacityPool.lan_address)?.free ?? 0));
    let best = 0;
    for (let i = 1; i < candidates.length; i++) if (free[i] > free[best]) best = i;
    return candidates[best];
  }

  /** No new work on any unit. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    await Promise.all(this.units().map((u) => u.stop()));
  }

  async drained(): Promise<void> {
    await Promise.all(this.units().map((u) => u.drained()));
  }
}
