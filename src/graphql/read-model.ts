// The read side: pages and relations loaded as plain rows (one SQL statement per list or
// relation level, batched per request with DataLoader), never through the router. Reads are the
// hot path of dashboards and automation; managed entities cost several times more per row, and
// reads change nothing, so they need no unit of work.
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { claimRange, type Protocol } from '../domain/entities/index.js';

export interface VmRow {
  id: string;
  name: string;
  /** its router's name */
  router: string;
  internalIp: string;
  macAddress: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface PortRuleRow {
  id: string;
  vmId: string;
  name: string | null;
  ruleNumber: number;
  protocol: Protocol;
  externalPort: number;
  internalPort: number;
  portCount: number;
  /** null: VYOS_HAIRPIN_DEFAULT */
  hairpin: boolean | null;
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
  needsRepair: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Each row field's column: the ORM's names as the API's. */
const VM_FIELD_COLUMNS: Record<keyof VmRow, string> = {
  id: 'id',
  name: 'name',
  router: 'router',
  internalIp: 'internal_ip as "internalIp"',
  macAddress: 'mac_address as "macAddress"',
  createdAt: 'created_at as "createdAt"',
  updatedAt: 'updated_at as "updatedAt"',
};
export const VM_COLUMNS = Object.values(VM_FIELD_COLUMNS).join(', ');

const RULE_FIELD_COLUMNS: Record<keyof PortRuleRow, string> = {
  id: 'id',
  vmId: 'vm_id as "vmId"',
  name: 'name',
  ruleNumber: 'rule_number as "ruleNumber"',
  protocol: 'protocol',
  externalPort: 'external_port as "externalPort"',
  internalPort: 'internal_port as "internalPort"',
  portCount: 'port_count as "portCount"',
  hairpin: 'hairpin',
  sourceAddress: 'source_address as "sourceAddress"',
  description: 'description',
  enabled: 'enabled',
  needsRepair: 'needs_repair as "needsRepair"',
  createdAt: 'created_at as "createdAt"',
  updatedAt: 'updated_at as "updatedAt"',
};
export const RULE_COLUMNS = Object.values(RULE_FIELD_COLUMNS).join(', ');

/**
 * The columns a selection of an object's fields needs (pure): `always`, plus each field's own or
 * the one `via` names for it (null: answered from elsewhere). A field neither list knows takes
 * every column, so a new field resolver can never read a column that was left out.
 */
function columnsFor<K extends string>(columns: Record<K, string>, always: K[], via: Record<string, K | null>, fields: Iterable<string>): string {
  const wanted = new Set<K>(always);
  for (const f of fields) {
    const k = f in via ? via[f] : f in columns ? (f as K) : undefined;
    if (k === undefined) return Object.values<string>(columns).join(', ');
    if (k !== null) wanted.add(k);
  }
  return (Object.keys(columns) as K[]).filter((k) => wanted.has(k)).map((k) => columns[k]).join(', ');
}

/** A PortRule selection's columns: id, vmId and ruleNumber always (the key, the VM and the order). */
export const ruleColumnsFor = (fields: Iterable<string>) => columnsFor(RULE_FIELD_COLUMNS, ['id', 'vmId', 'ruleNumber'], { vm: 'vmId', __typename: null }, fields);

/** A Vm selection's columns: its id always; its rules come in their own column (rulesJsonColumn). */
export const vmColumnsFor = (fields: Iterable<string>) => columnsFor(VM_FIELD_COLUMNS, ['id'], { portRules: null, __typename: null }, fields);

// The ORM's driver hands timestamps over as text; the API's DateTime wants dates.
export function dated<T extends { createdAt: Date; updatedAt: Date }>(rows: T[]): T[] {
  for (const r of rows) {
    // a page's rules may carry only the selected columns (ruleColumnsFor)
    if (r.createdAt !== undefined) r.createdAt = new Date(r.createdAt);
    if (r.updatedAt !== undefined) r.updatedAt = new Date(r.updatedAt);
  }
  return rows;
}

/** Every rule of a batch of VMs (one parameter: a uuid[] literal), by port_rule_vm_id_index. */
export const RULES_BY_VM_SQL = `select ${RULE_COLUMNS} from port_rule where vm_id = any(?::uuid[]) order by rule_number`;

/**
 * A VM page's column holding each VM's rules as JSON (`columns` of them), by rule number
 * (port_rule_vm_id_index): the page and its rules in one statement, as PostGraphile does, instead
 * of a second round trip.
 */
export const rulesJsonColumn = (columns: string) =>
  `(select coalesce(json_agg(r order by r."ruleNumber"), '[]'::json) from (select ${columns} from port_rule where port_rule.vm_id = vm.id) r) as "portRules"`;

/** A Postgres array literal of ids; ids are UUIDs we produced, checked by the callers' queries. */
export const uuidArray = (ids: readonly string[]) => `{${ids.join(',')}}`;

export interface ReadLoaders {
  vmById: DataLoader<string, VmRow | null>;
  portRulesByVm: DataLoader<string, PortRuleRow[]>;
}

/** Per request (or per subscription): DataLoader caches only for the request's lifetime. */
export function createReadLoaders(em: EntityManager): ReadLoaders {
  return {
    vmById: new DataLoader(async (ids) => {
      const rows = dated(await em.execute<VmRow[]>(`select ${VM_COLUMNS} from vm where id = any(?::uuid[])`, [uuidArray(ids)]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    portRulesByVm: new DataLoader(async (vmIds) => {
      const rows = dated(await em.execute<PortRuleRow[]>(RULES_BY_VM_SQL, [uuidArray(vmIds)]));
      const byVm = new Map<string, PortRuleRow[]>(vmIds.map((id) => [id, []]));
      for (const r of rows) byVm.get(r.vmId)?.push(r);
      return vmIds.map((id) => byVm.get(id) ?? []);
    }),
  };
}

export async function vmRow(em: EntityManager, id: string): Promise<VmRow | null> {
  const [row] = dated(await em.execute<VmRow[]>(`select ${VM_COLUMNS} from vm where id = ?::uuid`, [id]));
  return row ?? null;
}

export async function portRuleRow(em: EntityManager, id: string): Promise<PortRuleRow | null> {
  const [row] = dated(await em.execute<PortRuleRow[]>(`select ${RULE_COLUMNS} from port_rule where id = ?::uuid`, [id]));
  return row ?? null;
}

/** A VM's port rules by rule number (dry runs read them inside their transaction). */
export async function vmPortRuleRows(em: EntityManager, vmId: string): Promise<PortRuleRow[]> {
  return dated(await em.execute<PortRuleRow[]>(`select ${RULE_COLUMNS} from port_rule where vm_id = ?::uuid order by rule_number`, [vmId]));
}

export async function vmRowByName(em: EntityManager, name: string): Promise<VmRow | null> {
  const [row] = dated(await em.execute<VmRow[]>(`select ${VM_COLUMNS} from vm where name = ?`, [name]));
  return row ?? null;
}

/**
 * The rules holding `externalPort` for the transports of `protocol` (a TCP_UDP rule holds both),
 * a range holding it included: the per-transport claim ranges and their exclusion constraints'
 * indexes answer it, at most one rule each.
 */
export async function portOwnerRows(em: EntityManager, externalPort: number, transports: { tcp: boolean; udp: boolean }): Promise<PortRuleRow[]> {
  const claims = [transports.tcp ? `${claimRange('tcp_port')} @> ?::int` : null, transports.udp ? `${claimRange('udp_port')} @> ?::int` : null].filter((c): c is string => c !== null);
  if (claims.length === 0) return [];
  return dated(await em.execute<PortRuleRow[]>(`select ${RULE_COLUMNS} from port_rule where ${claims.join(' or ')} order by rule_number`, claims.map(() => externalPort)));
}

export interface RollbackEventRow {
  id: string;
  at: Date;
  router: string;
  operation: string;
  stage: string;
  reason: string;
  outcome: string;
  commands: unknown[];
}
export const ROLLBACK_COLUMNS = 'id, at, router, operation, stage, reason, outcome, commands';
export function datedEvent(row: RollbackEventRow): RollbackEventRow {
  row.at = new Date(row.at);
  return row;
}

export interface SnapshotRow {
  id: string;
  slot: number;
  router: string;
  file: string;
  reason: string;
  operation: string | null;
  createdAt: Date;
}

/** What the ApiKey type shows: never the secret's hash. */
export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  writesPerMinute: number | null;
  readsPerMinute: number | null;
}

const dateOrNull = (v: Date | string | null) => (v === null ? null : new Date(v));

/** The GraphQL types that implement Node, and the table each one's id is looked up in. */
export type NodeTypeName = 'Vm' | 'PortRule' | 'RollbackEvent' | 'Snapshot' | 'ApiKey';
const NODE_TABLES: Record<NodeTypeName, string> = { Vm: 'vm', PortRule: 'port_rule', RollbackEvent: 'rollback_event', Snapshot: 'snapshot', ApiKey: 'api_key' };

const NODE_LOADERS: Record<NodeTypeName, (em: EntityManager, id: string) => Promise<object | null>> = {
  Vm: vmRow,
  PortRule: portRuleRow,
  async RollbackEvent(em, id) {
    const [row] = await em.execute<RollbackEventRow[]>(`select ${ROLLBACK_COLUMNS} from rollback_event where id = ?::uuid`, [id]);
    return row ? datedEvent(row) : null;
  },
  async Snapshot(em, id) {
    const [row] = await em.execute<SnapshotRow[]>('select id, slot, router, file, reason, operation, created_at as "createdAt" from snapshot where id = ?::uuid', [id]);
    return row ? { ...row, createdAt: new Date(row.createdAt) } : null;
  },
  async ApiKey(em, id) {
    const [row] = await em.execute<ApiKeyRow[]>(
      `select id, name, role, prefix, created_at as "createdAt", expires_at as "expiresAt", revoked_at as "revokedAt",
        writes_per_minute as "writesPerMinute", reads_per_minute as "readsPerMinute" from api_key where id = ?::uuid`,
      [id],
    );
    return row ? { ...row, createdAt: new Date(row.createdAt), expiresAt: dateOrNull(row.expiresAt), revokedAt: dateOrNull(row.revokedAt) } : null;
  },
};

/**
 * The object a Node id names, searched in the tables of `types` only (ids are the tables' UUIDs,
 * unique across tables in practice; the first table in `types` order wins): one probe of every
 * primary key, then the row.
 */
export async function nodeRow(em: EntityManager, id: string, types: readonly NodeTypeName[]): Promise<{ type: NodeTypeName; row: object } | null> {
  if (types.length === 0) return null;
  const probe = types.map((t, i) => `(select ${i} as n from ${NODE_TABLES[t]} where id = ?::uuid)`).join(' union all ');
  const [hit] = await em.execute<{ n: number }[]>(`${probe} order by n limit 1`, types.map(() => id));
  if (!hit) return null;
  const type = types[hit.n];
  const row = await NODE_LOADERS[type](em, id);
  return row ? { type, row } : null;
}
