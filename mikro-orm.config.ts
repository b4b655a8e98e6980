// For the standard `npx mikro-orm …` CLI, run from a built tree (docs/database-migrations.md):
// the server's own DATABASE_URL, entities and migrations, and its migration lock.
import 'reflect-metadata';
import { loadConfig } from './src/config.js';
import { LockingMigrator } from './src/database/migrate-lock.js';
import { ormConfig } from './src/database/orm.js';

export default function mikroOrmConfig() {
  const { databaseUrl } = loadConfig();
  if (!databaseUrl) {
    // The embedded first-run database lives only while its owner process runs.
    throw new Error('the mikro-orm CLI needs DATABASE_URL (or DATABASE_URL_FILE); on the embedded first-run database use `npm run migrate:status` / `npm run migrate`');
  }
  return { ...ormConfig({ url: databaseUrl, poolMax: 2 }), extensions: [LockingMigrator] };
}
