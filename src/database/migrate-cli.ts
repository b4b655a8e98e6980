// `npm run migrate [-- up|down|status|create --name X|check]`: the migrations workflow
// (docs/database-migrations.md). Uses DATABASE_URL, or the embedded database when unset.
import 'reflect-metadata';
import { loadConfig } from '../config.js';
import { startEmbeddedDatabase } from './embedded.js';
import { migrateUp } from './migrate-lock.js';
import { migrationsSource, openOrm } from './orm.js';

async function run(argv: string[]): Promise<number> {
  const [command = 'up', ...rest] = argv;
  const name = rest[rest.indexOf('--name') + 1];
  const config = loadConfig();
  const embedded = config.databaseUrl ? null : await startEmbeddedDatabase(config.dataDir, 4);
  const orm = await openOrm({ url: config.databaseUrl ?? embedded!.url, poolMax: 2 });
  const migrator = orm.getMigrator();
  try {
    switch (command) {
      case 'up': {
        const done = await migrateUp(orm, config.databaseUrl ?? embedded!.url, { lock: !embedded });
        console.log(done.length ? `applied: ${done.join(', ')}` : 'nothing to apply');
        return 0;
      }
      case 'down': {
        const done = await migrator.down();
        console.log(done.length ? `reverted: ${done.map((m) => m.name).join(', ')}` : 'nothing to revert');
        return 0;
      }
      case 'status': {
        const executed = await migrator.getExecutedMigrations();
        const pending = await migrator.getPendingMigrations();
        for (const m of executed) console.log(`applied  ${m.name}  ${m.executed_at.toISOString()}`);
        for (const m of pending) console.log(`pending  ${m.name}`);
        return 0;
      }
      case 'create': {
        await migrator.up();
        const result = await migrator.createMigration(migrationsSource, false, false, rest.includes('--name') ? name : undefined);
        console.log(result.fileName ? `created migrations/${result.fileName}` : 'entities and migrations agree: nothing to create');
        return 0;
      }
      case 'check': {
        // Up, down to zero, up again, then the entities must match the migrated schema.
        await migrator.up();
        await migrator.down({ to: 0 });
        await migrator.up();
        const needed = await migrator.checkMigrationNeeded();
        if (needed) {
          const diff = await migrator.createMigration(migrationsSource, false, false, 'UNCOMMITTED-check').catch(() => null);
          console.error('entities and committed migrations disagree; run `npm run migration:create -- --name <what>`');
          if (diff?.fileName) console.error(`(a draft was written to migrations/${diff.fileName}: review it, or delete it)`);
          return 1;
        }
        console.log('migrations go up, down and up again, and match the entities');
        return 0;
      }
      default:
        console.error(`unknown command "${command}": use up, down, status, create --name X, or check`);
        return 2;
    }
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
