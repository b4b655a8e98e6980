// The standard MikroORM CLI works on a built tree (mikro-orm.config.ts, docs/database-migrations.md):
// `npx mikro-orm migration:pending` / `migration:up` / `migration:list` on the server's migrations,
// reading DATABASE_URL like the server, and its up/down wait for the project's migration lock.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrationsSource, projectRoot } from '../../src/database/orm.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const committed = readdirSync(migrationsSource)
  .filter((f) => /^Migration\d+_.*\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

/** The names in the CLI's table (first column), in order. */
function tableNames(out: string): string[] {
  return [...out.matchAll(/^│ (Migration\S+)/gm)].map((m) => m[1]);
}

describe('npx mikro-orm on the server configuration', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  const mikroOrm = async (...args: string[]) => (await run('npx', ['--no-install', 'mikro-orm', ...args], { cwd: projectRoot, env })).stdout;

  before(async () => {
    db = await createTestDatabase();
    env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', DATABASE_URL: db.url };
  });
  after(async () => {
    await db?.drop();
  });

  test('migration:pending lists every committed migration before up, and none after', async () => {
    assert.ok(committed.length > 0);
    assert.deepEqual(tableNames(await mikroOrm('migration:pending')), committed);

    assert.match(await mikroOrm('migration:up'), /Successfully migrated up to the latest version/);
    const pending = await mikroOrm('migration:pending');
    assert.deepEqual(tableNames(pending), []);
    assert.match(pending, /No pending migrations/);
    assert.deepEqual(tableNames(await mikroOrm('migration:list')), committed);
    // the CLI sees the same entities as the server: the migrated schema matches them
    assert.match(await mikroOrm('migration:check'), /No changes required, schema is up-to-date/);
  });

  test('migration:down waits for the migration lock that server start and migrate-cli.js up take', { skip: !process.env.TEST_DATABASE_URL && 'PGlite has one session: no lock to wait for' }, async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`select pg_advisory_lock(hashtext('vyos-vm-api:migrations'))`);
      const child = spawn('npx', ['--no-install', 'mikro-orm', 'migration:down'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // The CLI's session is queued behind ours on the advisory lock...
      for (let i = 0; ; i++) {
        const { rows } = await holder.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`);
        if (rows[0].n > 0) break;
        assert.ok(i < 300 && child.exitCode === null, `the CLI never waited for the lock:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // ...and has reverted nothing meanwhile.
      const before = await holder.query('select count(*)::int as n from mikro_orm_migrations');
      assert.equal(before.rows[0].n, committed.length);
      await holder.query(`select pg_advisory_unlock(hashtext('vyos-vm-api:migrations'))`);
      assert.equal(await exited, 0, out);
      assert.match(out, /Successfully migrated down to previous version/);
    } finally {
      await holder.end();
    }
    assert.deepEqual(tableNames(await mikroOrm('migration:pending')), committed.slice(-1));
  });
});
