// Routers as data (issue 18, docs/operations.md "A fleet of routers"). The environment's router
// (VYOS_URL, ROUTER_NAME) is the row named ROUTER_NAME, made or updated on every start. The
// router_fleet migration puts an older install's rows on one router; when it could not learn the
// name (router_state had none) it calls it '' and the first start gives it ROUTER_NAME. A later,
// different ROUTER_NAME is a new router: renaming one that holds VMs is never implied, since two
// deployments on one database would otherwise take each other's VMs in turn.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config, Ipv4Range, NumberRange } from '../config.js';
import { Router } from '../domain/entities/index.js';

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
