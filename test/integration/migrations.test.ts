// The migrations workflow on a real PostgreSQL (docs/database-migrations.md): every committed
// migration goes up, down and up again, the result matches the entities, and the CLI behind
// `npm run migrate` / `migrate:down` / `migrate:status` / `migration:create` does what it says.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { migrationsSource, openOrm, projectRoot, type MikroORM } from '../../src/database/orm.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const CLI = path.join(projectRoot, 'dist', 'src', 'database', 'migrate-cli.js');
// `create` writes a file into migrations/ when they disagree: only run it once they are known to agree.
let entitiesAgree = false;

async function tables(orm: MikroORM): Promise<string[]> {
  const rows = await orm.em.fork().execute<{ name: string }[]>(
    `select table_name as name from information_schema.tables where table_schema = 'public' and table_name <> 'mikro_orm_migrations' order by 1`,
  );
  return rows.map((r) => r.name);
}

/** The whole public schema as text: columns, constraints, indexes, triggers and functions. */
async function schemaFingerprint(orm: MikroORM): Promise<string> {
  const em = orm.em.fork();
  const columns = await em.execute(
    `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
      where table_schema = 'public' and table_name <> 'mikro_orm_migrations' order by table_name, column_name`,
  );
  const indexes = await em.execute(`select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename <> 'mikro_orm_migrations' order by indexname`);
  const constraints = await em.execute(
    `select conname, pg_get_constraintdef(c.oid) as def from pg_constraint c join pg_namespace n on n.oid = c.connamespace
      where n.nspname = 'public' order by conname`,
  );
  const triggers = await em.execute(
    `select tgname, pg_get_triggerdef(t.oid) as def from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and not t.tgisinternal order by tgname`,
  );
  const functions = await em.execute(
    `select p.proname, pg_get_functiondef(p.oid) as def from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' order by proname`,
  );
  return JSON.stringify({ columns, indexes, constraints, triggers, functions });
}

describe('migrations on a fresh PostgreSQL', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  before(async () => {
    db = await createTestDatabase();
    orm = await openOrm({ url: db.url, poolMax: 2 });
  });
  after(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  test('every committed migration goes up, down and up again, one at a time', async () => {
    const migrator = orm.getMigrator();
    const committed = readdirSync(migrationsSource).filter((f) => /^Migration\d+.*\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
    const pending = (await migrator.getPendingMigrations()).map((m) => m.name);
    assert.deepEqual(pending, committed, 'the migrator sees every committed migration (compiled to dist/migrations)');
    assert.ok(committed.length > 0);

    for (const name of committed) {
      const before = await schemaFingerprint(orm);
      await migrator.up({ to: name });
      const applied = await schemaFingerprint(orm);
      assert.notEqual(applied, before, `${name} changes the schema`);
      await migrator.down();
      assert.equal(await schemaFingerprint(orm), before, `${name} down restores the schema exactly`);
      await migrator.up({ to: name });
      assert.equal(await schemaFingerprint(orm), applied, `${name} up again gives the same schema`);
    }
    assert.deepEqual((await migrator.getExecutedMigrations()).map((m) => m.name), committed);
  });

  test('all the way down leaves no table of ours, and up again restores everything', async () => {
    const migrator = orm.getMigrator();
    const full = await schemaFingerprint(orm);
    await migrator.down({ to: 0 });
    assert.deepEqual(await tables(orm), []);
    await migrator.up();
    assert.equal(await schemaFingerprint(orm), full);
  });

  test('the entities and the committed migrations agree: creating a migration now yields nothing', async () => {
    const migrator = orm.getMigrator();
    const needed = await migrator.checkMigrationNeeded();
    const diff = needed ? await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false }) : '';
    entitiesAgree = !needed;
    assert.equal(needed, false, `the entities need SQL that no migration has (run \`npm run migration:create -- --name <what>\`):\n${diff}`);
  });
});

describe('the migrate CLI (npm run migrate / migrate:down / migrate:status / migration:create)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' } });
    return stdout;
  };

  test('status lists pending, up applies, down reverts the last, create finds nothing to create', async () => {
    const committed = readdirSync(migrationsSource).filter((f) => /^Migration\d+.*\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
    const last = committed[committed.length - 1];
    assert.match(await cli('status'), new RegExp(`^pending  ${last}$`, 'm'));
    assert.match(await cli('up'), new RegExp(`applied: .*${last}`));
    assert.match(await cli('up'), /nothing to apply/);
    assert.match(await cli('status'), new RegExp(`^applied  ${last}  \\d{4}-`, 'm'));
    assert.match(await cli('down'), new RegExp(`reverted: ${last}`));
    assert.match(await cli('status'), new RegExp(`^pending  ${last}$`, 'm'));
    // `create` applies what is pending first, then compares: nothing to write when they agree.
    assert.ok(entitiesAgree, 'entities and migrations disagree (see the test above): not running create');
    assert.match(await cli('create', '--name', 'nothing'), /nothing to create/);
    assert.deepEqual(readdirSync(migrationsSource).filter((f) => f.includes('nothing')), [], 'no file was written');
  });

  test('check: up, down, up and matches the entities (what CI runs)', async () => {
    assert.match(await cli('check'), /match the entities/);
  });
});
