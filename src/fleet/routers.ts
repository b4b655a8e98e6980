// Routers as data (issue 18, docs/operations.md "A fleet of routers"). The environment's router
// (VYOS_URL, ROUTER_NAME) is the row named ROUTER_NAME, made or updated on every start. The
// router_fleet migration puts an older install's rows on one router; when it could not learn the
// name (router_state had none) it calls it '' and the first start gives it ROUTER_NAME. A later,
// different ROUTER_NAME is a new router: renaming one that holds VMs is never implied, since two
// deployments on one database would otherwise take each other's VMs in turn.
import { LockMode, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import type { Config, Ipv4Range, NumberRange } from '../config.js';
import { Router, RouterLifecycle } from '../domain/entities/index.js';
import { badInput, conflict, notFound } from '../domain/errors.js';
import { parseIpv4Range, parseNumberRange } from './ranges.js';
import { parseKeyRef } from './router-config.js';

/** Tables whose `router` column is plain text (vm and port_rule follow the foreign key's cascade). */
const OWNED_TEXT_COLUMNS = ['operation', 'snapshot', 'rollback_event', 'router_state'] as const;

const rangeText = (r: NumberRange | Ipv4Range) => `${r.first}-${r.last}`;

/** The environment's router as a row (pure): what the router table records of the configuration. */
export function envRouterRow(config: Config): Omit<Router, 'createdAt' | 'updatedAt' | 'lifecycle'> {
  return {
    name: config.routerName,
    // null: the built-in simulator, whose URL changes with every start
    url: config.vyosUrl ?? null,
    keyRef: config.vyosApiKeyRef,
    tlsInsecure: config.vyosTlsInsecure,
    caFile: config.vyosCaFile ?? null,
    wanInterface: config.wanInterface,
    syntax: config.vyosSyntax,
    commitConfirm: config.vyosCommitConfirm,
    natRuleRange: rangeText(config.natRuleRange),
    externalPortRange: rangeText(config.externalPortRange),
    lanPool: rangeText(config.lanPool),
    fromEnv: true,
  };
}

/** The name the router_fleet migration gives an older install's router when it cannot tell ROUTER_NAME. */
export const UNNAMED_ROUTER = '';

/**
 * Makes the row named ROUTER_NAME say what the configuration says (the unnamed router of an
 * upgraded install becomes it). Replicas starting together serialise on the unnamed row's lock
 * and the upsert.
 */
export async function adoptEnvRouter(orm: MikroORM, config: Config): Promise<void> {
  const row = envRouterRow(config);
  await orm.em.fork().transactional(async (em) => {
    const [unnamed] = await em.execute<{ name: string }[]>('select name from router where name = ? for update', [UNNAMED_ROUTER]);
    const [named] = await em.execute<{ name: string }[]>('select name from router where name = ?', [row.name]);
    if (unnamed && !named) await renameRouter(em, UNNAMED_ROUTER, row.name);
    const now = new Date();
    await em.upsert(Router, { ...row, updatedAt: now, createdAt: now }, { onConflictFields: ['name'], onConflictExcludeFields: ['createdAt'] });
  });
}

async function renameRouter(em: EntityManager, from: string, to: string): Promise<void> {
  // the foreign keys of vm and port_rule cascade; the plain columns follow here
  await em.execute('update router set name = ? where name = ?', [to, from]);
  for (const table of OWNED_TEXT_COLUMNS) await em.execute(`update ${table} set router = ? where router = ?`, [to, from]);
  // allocation marks only speed up the search (`<router>:<pool>`): the renamed router's start afresh
  await em.execute("delete from allocation_mark where starts_with(pool, ? || ':')", [from]);
}

/** Every router, by name. */
export function listRouters(em: EntityManager): Promise<Router[]> {
  return em.find(Router, {}, { orderBy: { name: 'asc' } });
}

/** What an operator sets on a registered router (validated, ranges as `first-last` text). */
export interface RouterSpec {
  url: string;
  keyRef: string;
  tlsInsecure: boolean;
  caFile: string | null;
  wanInterface: string | null;
  syntax: 'auto' | '1.3' | '1.4';
  commitConfirm: 'auto' | 'on' | 'off';
  natRuleRange: string | null;
  externalPortRange: string | null;
  lanPool: string | null;
  lifecycle: RouterLifecycle;
}

/** Lower-case letters, digits and hyphens, like VM names: it appears in metrics labels, locks and logs. */
const ROUTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateRouterName(field: string, name: string): string {
  if (!ROUTER_NAME.test(name)) throw badInput(field, 'lower-case letters, digits and hyphens, 1-63 characters, not starting or ending with a hyphen');
  return name;
}

/** A router named in an argument: text PostgreSQL can hold (no NUL); an unknown one is the lookup's NOT_FOUND. */
export function routerNameArg<T extends string | null | undefined>(field: string, name: T): T {
  if (name?.includes('\u0000')) throw badInput(field, 'must not contain NUL');
  return name;
}

/** The given fields, checked (pure); BAD_USER_INPUT names the first bad one. */
export function validateRouterSpec(input: Partial<Record<keyof RouterSpec, unknown>>): Partial<RouterSpec> {
  const out: Partial<RouterSpec> = {};
  const given = (k: keyof RouterSpec) => input[k] !== undefined;
  if (given('url')) {
    const u = String(input.url);
    let parsed: URL | null = null;
    try {
      parsed = new URL(u);
    } catch {
      parsed = null;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) throw badInput('input.url', 'an http:// or https:// URL of the VyOS HTTP API');
    if (parsed.username || parsed.password) throw badInput('input.url', 'no credentials in the URL: the key comes from `credential`');
    out.url = u.replace(/\/+$/, '');
  }
  if (given('keyRef')) {
    const ref = String(input.keyRef);
    if (!parseKeyRef(ref)) throw badInput('input.credential', 'env:NAME (an environment variable of every replica) or file:/absolute/path; never the key itself');
    out.keyRef = ref;
  }
  if (given('tlsInsecure')) out.tlsInsecure = input.tlsInsecure === true;
  if (given('caFile')) {
    const f = input.caFile == null ? null : String(input.caFile);
    if (f !== null && !f.startsWith('/')) throw badInput('input.caFile', 'an absolute path');
    out.caFile = f;
  }
  if (given('wanInterface')) {
    const w = input.wanInterface == null ? null : String(input.wanInterface);
    if (w !== null && !/^[a-z][a-z0-9.@-]{0,15}$/.test(w)) throw badInput('input.wanInterface', 'a VyOS interface name such as eth0 or bond0.100');
    out.wanInterface = w;
  }
  const oneOf = <T extends string>(k: 'syntax' | 'commitConfirm', allowed: readonly T[]): T | undefined => {
    if (!given(k)) return undefined;
    const v = String(input[k]);
    if (!allowed.includes(v as T)) throw badInput(`input.${k}`, `one of ${allowed.join(', ')}`);
    return v as T;
  };
  const syntax = oneOf('syntax', ['auto', '1.3', '1.4'] as const);
  if (syntax) out.syntax = syntax;
  const confirm = oneOf('commitConfirm', ['auto', 'on', 'off'] as const);
  if (confirm) out.commitConfirm = confirm;
  const range = (k: 'natRuleRange' | 'externalPortRange' | 'lanPool', ok: (t: string) => boolean, what: string) => {
    if (!given(k)) return;
    const t = input[k] == null ? null : String(input[k]).replace(/\s+/g, '');
    if (t !== null && !ok(t)) throw badInput(`input.${k}`, `expected "first-last" ${what}`);
    out[k] = t;
  };
  range('natRuleRange', (t) => parseNumberRange(t, 1, 999_999) !== null, 'rule numbers within 1-999999');
  range('externalPortRange', (t) => parseNumberRange(t, 1, 65_535) !== null, 'ports within 1-65535');
  range('lanPool', (t) => parseIpv4Range(t) !== null, 'IPv4 addresses');
  if (given('lifecycle')) out.lifecycle = input.lifecycle as RouterLifecycle;
  return out;
}

/** A new router row; CONFLICT when the name is taken. */
export async function registerRouter(em: EntityManager, name: string, spec: Partial<RouterSpec> & Pick<RouterSpec, 'url' | 'keyRef'>): Promise<Router> {
  return em.transactional(async (tx) => {
    if (await tx.findOne(Router, { name })) throw conflict(`a router named ${name} is already registered`, { field: 'input.name' });
    await checkUrlFree(tx, name, spec.url);
    const now = new Date();
    const row = tx.create(Router, { name, ...spec, fromEnv: false, createdAt: now, updatedAt: now });
    await tx.flush();
    return row;
  });
}

/**
 * Changes a registered router. One the environment configures changes only its lifecycle (the
 * rest is the environment's at every start). Ranges may change while they still hold every value
 * its VMs and rules use.
 */
export async function updateRouter(em: EntityManager, name: string, patch: Partial<RouterSpec>): Promise<Router> {
  return em.transactional(async (tx) => {
    const row = await tx.findOne(Router, { name }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!row) throw notFound('router', name);
    if (row.fromEnv && Object.keys(patch).some((k) => k !== 'lifecycle')) {
      throw conflict(`router ${name} is configured by the environment (ROUTER_NAME, VYOS_URL, …): only its lifecycle changes here`, { router: name });
    }
    if (patch.url) await checkUrlFree(tx, name, patch.url);
    await checkRangesHoldUsed(tx, name, patch);
    Object.assign(row, patch, { updatedAt: new Date() });
    await tx.flush();
    return row;
  });
}

/**
 * One router, one row: two units writing one router would break its one-write-at-a-time rule
 * (docs/vyos-api.md section 6) and take each other's rules for foreign ones.
 */
async function checkUrlFree(em: EntityManager, name: string, url: string): Promise<void> {
  const [other] = await em.execute<{ name: string }[]>("select name from router where rtrim(url, '/') = rtrim(?, '/') and name <> ?", [url, name]);
  if (other) throw conflict(`input.url: router ${other.name} already has this URL: one router is registered once`, { field: 'input.url', router: other.name });
}

async function checkRangesHoldUsed(em: EntityManager, name: string, patch: Partial<RouterSpec>): Promise<void> {
  const outside = async (field: string, sql: string, params: unknown[]) => {
    const [row] = await em.execute<{ n: number }[]>(sql, [name, ...params]);
    if ((row?.n ?? 0) > 0) throw conflict(`input.${field}: ${row.n} of the router's rules or VMs use values outside the new range; widen it instead`, { field: `input.${field}` });
  };
  const nat = patch.natRuleRange && parseNumberRange(patch.natRuleRange, 1, 999_999);
  if (nat) await outside('natRuleRange', 'select count(*)::int as n from port_rule where router = ? and (rule_number < ? or rule_number > ?)', [nat.first, nat.last]);
  const ports = patch.externalPortRange && parseNumberRange(patch.externalPortRange, 1, 65_535);
  if (ports) await outside('externalPortRange', 'select count(*)::int as n from port_rule where router = ? and (external_port < ? or external_port + port_count - 1 > ?)', [ports.first, ports.last]);
  const lan = patch.lanPool && parseIpv4Range(patch.lanPool);
  if (lan) await outside('lanPool', 'select count(*)::int as n from vm where router = ? and (internal_ip::inet < ?::inet or internal_ip::inet > ?::inet)', [lan.first, lan.last]);
}

/** Removes a registered router that no VM lives on (its journal, snapshots and rollback events stay as history). */
export async function retireRouter(em: EntityManager, name: string): Promise<void> {
  await em.transactional(async (tx) => {
    const row = await tx.findOne(Router, { name }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!row) throw notFound('router', name);
    if (row.fromEnv) throw conflict(`router ${name} is configured by the environment: the next start would register it again; drain it instead`, { router: name });
    const [vms] = await tx.execute<{ n: number }[]>('select count(*)::int as n from vm where router = ?', [name]);
    if (vms.n > 0) throw conflict(`router ${name} still has ${vms.n} VMs: decommission them first`, { router: name });
    await tx.execute("delete from allocation_mark where starts_with(pool, ? || ':')", [name]);
    await tx.execute('delete from router_state where router = ?', [name]);
    await tx.execute('delete from router where name = ?', [name]);
  });
}
