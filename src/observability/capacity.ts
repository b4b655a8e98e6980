// Capacity of the pools the server allocates from (docs/monitoring.md#capacity): how many values
// each configured range holds, and how many of them rows in the database use. One implementation
// for /metrics, GET /health and the `health` query.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ipv4ToInt, type Config } from '../config.js';
import { claimRange } from '../domain/entities/port-rule.js';

// Lower-case values, as the metrics' `pool` label and GET /health spell them.
export enum CapacityPool {
  rule_number = 'rule_number',
  external_port_tcp = 'external_port_tcp',
  external_port_udp = 'external_port_udp',
  lan_address = 'lan_address',
}
registerEnumType(CapacityPool, {
  name: 'CapacityPool',
  description: 'A range of values the server hands out.',
  valuesConfig: {
    rule_number: { description: 'NAT rule numbers (NAT_RULE_RANGE).' },
    external_port_tcp: { description: 'External ports forwarded for TCP (EXTERNAL_PORT_RANGE; a TCP_UDP rule takes one here and one for UDP).' },
    external_port_udp: { description: 'External ports forwarded for UDP (EXTERNAL_PORT_RANGE).' },
    lan_address: { description: 'VM addresses (LAN_POOL).' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'How full one pool is. Counted from the database: values inside the range that rows use.' })
export class PoolCapacity {
  @Field(() => CapacityPool, { description: 'Which pool.' })
  pool!: CapacityPool;

  @Field(() => String, { description: 'The configured range, `first-last`.' })
  range!: string;

  @Field(() => Int, { description: 'Values in the range.' })
  total!: number;

  @Field(() => Int, { description: 'Values in the range that a VM or port rule uses (an explicit value outside the range is not counted).' })
  used!: number;

  @Field(() => Int, { description: '`total - used`: what allocation can still hand out (rules of the router that are not ours can take some of it).' })
  free!: number;
}

/** One pool's range as numbers (LAN addresses as 32-bit integers). */
export interface PoolRange {
  pool: CapacityPool;
  first: number;
  last: number;
  /** as configured */
  range: string;
}

/** The pools of a configuration, in the order they are reported. */
export function poolRanges(config: Pick<Config, 'natRuleRange' | 'externalPortRange' | 'lanPool'>): PoolRange[] {
  const numbers = (r: { first: number; last: number }) => `${r.first}-${r.last}`;
  const lan = config.lanPool;
  return [
    { pool: CapacityPool.rule_number, ...config.natRuleRange, range: numbers(config.natRuleRange) },
    { pool: CapacityPool.external_port_tcp, ...config.externalPortRange, range: numbers(config.externalPortRange) },
    { pool: CapacityPool.external_port_udp, ...config.externalPortRange, range: numbers(config.externalPortRange) },
    { pool: CapacityPool.lan_address, first: ipv4ToInt(lan.first)!, last: ipv4ToInt(lan.last)!, range: `${lan.first}-${lan.last}` },
  ];
}

/** Capacity from used counts: pure. */
export function poolCapacity(range: PoolRange, used: number): PoolCapacity {
  const total = range.last - range.first + 1;
  return { pool: range.pool, range: range.range, total, used, free: Math.max(0, total - used) };
}

// One index range scan per pool: each column has a unique index (vm.internal_ip by its inet
// value, migration capacity_index; the ports their claim ranges' GiST index), so the cost is the
// values used, never a load of rows. A port range counts its ports inside the pool.
const portsUsed = (column: 'tcp_port' | 'udp_port') =>
  `(select coalesce(sum(upper(${claimRange(column, 'p')} * w.r) - lower(${claimRange(column, 'p')} * w.r)), 0)
      from (select int4range(?::int, ?::int, '[]') as r) w join port_rule p on p.router = ? and ${claimRange(column, 'p')} && w.r)`;
const USED: Record<CapacityPool, string> = {
  rule_number: '(select count(*) from port_rule where rule_number between ? and ? and router = ?)',
  external_port_tcp: portsUsed('tcp_port'),
  external_port_udp: portsUsed('udp_port'),
  lan_address: "(select count(*) from vm where internal_ip::inet between '0.0.0.0'::inet + ?::bigint and '0.0.0.0'::inet + ?::bigint and router = ?)",
};

/** Every pool's capacity on `router`, in one statement (each count takes first, last, router). */
export async function countCapacity(em: EntityManager, router: string, ranges: readonly PoolRange[]): Promise<PoolCapacity[]> {
  const [row] = await em.execute<Record<string, string>[]>(
    `select ${ranges.map((r, i) => `${USED[r.pool]} as p${i}`).join(', ')}`,
    ranges.flatMap((r) => [r.first, r.last, router]),
  );
  return ranges.map((r, i) => poolCapacity(r, Number(row?.[`p${i}`] ?? 0)));
}

/** The change clock as capacity sees it (database/change-clock.ts). */
export interface CapacityClock {
  readonly generation: number;
  /** every committed change, other processes' too, moves the generation */
  readonly fresh: boolean;
}

/** How old a count may be when other replicas' changes do not reach the clock. */
export const CAPACITY_MAX_AGE_MS = 5000;

/**
 * Counts on demand and keeps the answer while the change clock says nothing changed: this
 * process's own commits always move the clock, other replicas' only while the change feed
 * listens (`fresh`); without it a count is kept at most CAPACITY_MAX_AGE_MS.
 */
export class CapacityReader {
  private cached: { generation: number; at: number; pools: PoolCapacity[] } | null = null;
  private running: Promise<PoolCapacity[]> | null = null;
  private readonly ranges: PoolRange[];

  constructor(
    private readonly orm: () => MikroORM,
    private readonly config: Pick<Config, 'natRuleRange' | 'externalPortRange' | 'lanPool' | 'routerName'>,
    private readonly clock: CapacityClock,
    private readonly maxAgeMs = CAPACITY_MAX_AGE_MS,
  ) {
    this.ranges = poolRanges(config);
  }

  read(): Promise<PoolCapacity[]> {
    const c = this.cached;
    if (c && c.generation === this.clock.generation && (this.clock.fresh || Date.now() - c.at < this.maxAgeMs)) return Promise.resolve(c.pools);
    // Concurrent scrapes and health checks share one count.
    this.running ??= this.count().finally(() => (this.running = null));
    return this.running;
  }

  private async count(): Promise<PoolCapacity[]> {
    const generation = this.clock.generation;
    const at = Date.now();
    const pools = await countCapacity(this.orm().em.fork(), this.config.routerName, this.ranges);
    this.cached = { generation, at, pools };
    return pools;
  }
}
