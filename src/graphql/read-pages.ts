// The read side's connections: each list's order is a btree index (the keyset), and each filter
// a condition an index serves where one can (docs/performance.md#pagination). Pure builders
// (`*Source`) say what to read, so tests can EXPLAIN exactly what a page runs.
import type { EntityManager } from '@mikro-orm/postgresql';
import { claimRange, type Protocol } from '../domain/entities/index.js';
import { intKey, keysetPage, timeKey, uuidKey, type Keyset, type Page, type PageRequest, type PageSource } from './connection.js';
import { RULE_COLUMNS, ROLLBACK_COLUMNS, rulesJsonColumn, VM_COLUMNS, dated, datedEvent, type PortRuleRow, type RollbackEventRow, type VmRow } from './read-model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** VMs, oldest first: index vm_created_at_id_index. */
export const VM_KEYSET: Keyset = { name: 'vm', key: [timeKey('created_at'), uuidKey('id')], order: 'asc' };
/** Port rules by rule number: the unique index port_rule_rule_number_unique. */
// rule numbers are unique per router only: the id breaks ties between routers (index port_rule_rule_number_id_index)
export const PORT_RULE_KEYSET: Keyset = { name: 'portRule', key: [intKey('rule_number'), uuidKey('id')], order: 'asc' };
/** Rollback events, newest first: index rollback_event_at_id_index, read backwards. */
export const ROLLBACK_KEYSET: Keyset = { name: 'rollbackEvent', key: [timeKey('at'), uuidKey('id')], order: 'desc' };

export interface VmFilterValues {
  nameContains?: string | null;
  router?: string | null;
  internalIp?: string | null;
  externalPort?: number | null;
  protocol?: Protocol | null;
  enabled?: boolean | null;
}

export interface PortRuleFilterValues {
  vmId?: string | null;
  router?: string | null;
  externalPort?: number | null;
  protocol?: Protocol | null;
  enabled?: boolean | null;
  internalIp?: string | null;
}

/** Conditions on port_rule (aliased `alias`) shared by both filters. */
function ruleConditions(alias: string, f: { externalPort?: number | null; protocol?: Protocol | null; enabled?: boolean | null }, where: string[], params: unknown[]) {
  if (f.externalPort != null) {
    // every rule claims its ports on tcp_port or udp_port (or both): the claim indexes answer it, ranges included
    where.push(`(${claimRange('tcp_port', alias)} @> ?::int or ${claimRange('udp_port', alias)} @> ?::int)`);
    params.push(f.externalPort, f.externalPort);
  }
  if (f.protocol != null) {
    where.push(`${alias}.protocol = ?`);
    params.push(f.protocol);
  }
  if (f.enabled != null) {
    where.push(`${alias}.enabled = ?`);
    params.push(f.enabled);
  }
}

/** `columns`: the VMs' (vmColumnsFor); `ruleColumns`: the page's rows carry their rules (`portRules`) with these (ruleColumnsFor). */
export function vmSource(filter: VmFilterValues | null | undefined, ruleColumns: string | null = null, columns = VM_COLUMNS): PageSource {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter?.nameContains != null) {
    // names are lower-case DNS labels: a case-insensitive substring is a plain strpos
    where.push('strpos(vm.name, ?) > 0');
    params.push(filter.nameContains.toLowerCase());
  }
  if (filter?.internalIp != null) {
    where.push('vm.internal_ip = ?');
    params.push(filter.internalIp);
  }
  if (filter?.router != null) {
    where.push('vm.router = ?');
    params.push(filter.router);
  }
  const rule: string[] = [];
  const ruleParams: unknown[] = [];
  ruleConditions('r', filter ?? {}, rule, ruleParams);
  if (rule.length > 0) {
    // VMs having at least one rule that matches all the rule conditions (port_rule_vm_id_index)
    where.push(`exists (select 1 from port_rule r where r.vm_id = vm.id and ${rule.join(' and ')})`);
    params.push(...ruleParams);
  }
  return { select: ruleColumns ? `${columns}, ${rulesJsonColumn(ruleColumns)}` : columns, from: 'vm', where, params };
}

export function portRuleSource(filter: PortRuleFilterValues | null | undefined): PageSource {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter?.vmId != null) {
    // an id that is not a UUID names no VM: nothing matches (as vm(id:) answers null)
    if (!UUID.test(filter.vmId)) where.push('false');
    else {
      where.push('port_rule.vm_id = ?::uuid');
      params.push(filter.vmId);
    }
  }
  if (filter?.internalIp != null) {
    where.push('port_rule.vm_id in (select id from vm where internal_ip = ?)');
    params.push(filter.internalIp);
  }
  if (filter?.router != null) {
    where.push('port_rule.router = ?');
    params.push(filter.router);
  }
  ruleConditions('port_rule', filter ?? {}, where, params);
  return { select: RULE_COLUMNS, from: 'port_rule', where, params };
}

export const ROLLBACK_SOURCE: PageSource = { select: ROLLBACK_COLUMNS, from: 'rollback_event', where: [], params: [] };

/** A VM row of a page read with its rules. */
export type VmWithRules = VmRow & { portRules?: PortRuleRow[] };

/** `columns`: the VMs' columns; `ruleColumns`: each row brings its rules along (`portRules`) with these. */
export function vmPage(em: EntityManager, filter: VmFilterValues | null | undefined, req: PageRequest, withCount: boolean, ruleColumns: string | null = null, columns = VM_COLUMNS): Promise<Page<VmWithRules>> {
  return keysetPage<VmWithRules>(em, VM_KEYSET, vmSource(filter, ruleColumns, columns), req, withCount, (r) => {
    if (r.portRules) dated(r.portRules);
    return dated([r])[0];
  });
}

export function portRulePage(em: EntityManager, filter: PortRuleFilterValues | null | undefined, req: PageRequest, withCount: boolean): Promise<Page<PortRuleRow>> {
  return keysetPage<PortRuleRow>(em, PORT_RULE_KEYSET, portRuleSource(filter), req, withCount, (r) => dated([r])[0]);
}

export function rollbackEventPage(em: EntityManager, req: PageRequest, withCount: boolean): Promise<Page<RollbackEventRow>> {
  return keysetPage<RollbackEventRow>(em, ROLLBACK_KEYSET, ROLLBACK_SOURCE, req, withCount, datedEvent);
}
