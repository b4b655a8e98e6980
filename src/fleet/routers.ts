// Routers as data (issue 18, docs/operations.md "A fleet of routers"). The environment's router
// (VYOS_URL, ROUTER_NAME) is a row like any other, kept up to date on every start: an install
// from before the fleet finds its rows moved onto it by the router_fleet migration, and a changed
// ROUTER_NAME renames it, with everything that belongs to it.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config, Ipv4Range, NumberRange } from '../config.js';
import { Router } from '../domain/entities/index.js';
import { conflict } from '../domain/errors.js';

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

/**
 * Makes the router table's environment row say what the configuration says, renaming it (and
 * what it owns) when ROUTER_NAME changed. Replicas starting together serialise on the row lock.
 */
export async function adoptEnvRouter(orm: MikroORM, config: Config): Promise<void> {
  const row = envRouterRow(config);
  await orm.em.fork().transactional(async (em) => {
    const [current] = await em.execute<{ name: string }[]>('select name from router where from_env for update');
    if (current && current.name !== row.name) await renameRouter(em, current.name, row.name);
    const values = { ...row, updatedAt: new Date() };
    if (current) await em.nativeUpdate(Router, { name: row.name }, values);
    else await em.insert(Router, { ...values, createdAt: new Date() });
  });
}

async function renameRouter(em: EntityManager, from: string, to: string): Promise<void> {
  const [taken] = await em.execute<{ name: string }[]>('select name from router where name = ?', [to]);
  if (taken) throw conflict(`ROUTER_NAME: a router named "${to}" is already registered; the environment's router "${from}" cannot take its name`);
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
