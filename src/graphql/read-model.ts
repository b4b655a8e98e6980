// The read side: pages and relations loaded as plain rows (one SQL statement per list or
// relation level, batched per request with DataLoader), never through the router. Reads are the
// hot path of dashboards and automation; managed entities cost several times more per row, and
// reads change nothing, so they need no unit of work.
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import type { Protocol } from '../domain/entities/index.js';
import { decodeCursor, pageSize, toPage, type Page } from './connection.js';

export interface VmRow {
  id: string;
  name: string;
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
  sourceAddress: string | null;
  description: string | null;
  enabled: boolean;
  needsRepair: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const VM_COLUMNS = 'id, name, internal_ip as "internalIp", mac_address as "macAddress", created_at as "createdAt", updated_at as "updatedAt"';
const RULE_COLUMNS = `id, vm_id as "vmId", name, rule_number as "ruleNumber", protocol, external_port as "externalPort", internal_port as "internalPort",
  source_address as "sourceAddress", description, enabled, needs_repair as "needsRepair", created_at as "createdAt", updated_at as "updatedAt"`;

// The ORM's driver hands timestamps over as text; the API's DateTime wants dates.
function dated<T extends { createdAt: Date; updatedAt: Date }>(rows: T[]): T[] {
  for (const r of rows) {
    r.createdAt = new Date(r.createdAt);
    r.updatedAt = new Date(r.updatedAt);
  }
  return rows;
}

/** A Postgres array literal of ids; ids are UUIDs we produced, checked by the callers' queries. */
const uuidArray = (ids: readonly string[]) => `{${ids.join(',')}}`;

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
      const rows = dated(await em.execute<PortRuleRow[]>(`select ${RULE_COLUMNS} from port_rule where vm_id = any(?::uuid[]) order by rule_number`, [uuidArray(vmIds)]));
      const byVm = new Map<string, PortRuleRow[]>(vmIds.map((id) => [id, []]));
      for (const r of rows) byVm.get(r.vmId)?.push(r);
      return vmIds.map((id) => byVm.get(id) ?? []);
    }),
  };
}

/** A page of VMs, oldest first; the count query runs only when the client asked for totalCount. */
export async function vmPage(em: EntityManager, first: number | null, after: string | null | undefined, withCount: boolean): Promise<Page<VmRow>> {
  const n = pageSize(first ?? 50);
  const cursor = after ? decodeCursor(after) : null;
  const [rows, count] = await Promise.all([
    cursor
      ? // cursors carry milliseconds (JavaScript dates); compare at that precision
        em.execute<VmRow[]>(`select ${VM_COLUMNS} from vm where (date_trunc('milliseconds', created_at), id) > (?, ?::uuid) order by created_at, id limit ?`, [cursor.at, cursor.id, n + 1])
      : em.execute<VmRow[]>(`select ${VM_COLUMNS} from vm order by created_at, id limit ?`, [n + 1]),
    withCount ? em.execute<{ n: number }[]>('select count(*)::int as n from vm') : Promise.resolve([{ n: 0 }]),
  ]);
  return toPage(dated(rows), n, count[0].n, (v) => ({ at: v.createdAt, id: v.id }));
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
