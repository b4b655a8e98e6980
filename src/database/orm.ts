import { DataloaderType, MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import path from 'node:path';
import { entities } from '../domain/entities/index.js';

/** The project root, whether we run from src (never) or from dist/src. */
export const projectRoot = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');

/** Source folder of migrations (TypeScript, committed) and the compiled one the migrator runs. */
export const migrationsSource = path.join(projectRoot, 'migrations');
export const migrationsCompiled = path.join(projectRoot, 'dist', 'migrations');

export interface OrmOptions {
  url: string;
  poolMax?: number;
  debug?: boolean;
}

export function ormConfig(opts: OrmOptions) {
  return defineConfig({
    clientUrl: opts.url,
    entities,
    extensions: [Migrator],
    // Resolvers load relations per row; the dataloader folds them into one query per level.
    dataloader: DataloaderType.ALL,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    debug: opts.debug ?? false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    migrations: {
      path: migrationsCompiled,
      pathTs: migrationsSource,
      glob: '!(*.d).js',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
      disableForeignKeys: false,
      silent: true,
    },
    discovery: { warnWhenNoEntities: true },
  });
}

export async function openOrm(opts: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(opts));
}

export type { MikroORM };

/** PGlite serves one backend session to every connection (see app.ts for what that changes). */
export async function isSingleSessionDatabase(orm: MikroORM): Promise<boolean> {
  const [row] = await orm.em.fork().execute<{ version: string }[]>('select version() as version');
  return /PGlite/i.test(row?.version ?? '');
}
