// A fresh database per test file: on the PostgreSQL named by TEST_DATABASE_URL (CI), or on an
// embedded PGlite when none is given. Real SQL either way; nothing is mocked.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../../src/database/embedded.js';

export interface TestDatabase {
  url: string;
  /** true on the embedded PGlite (one session multiplexed: some multi-connection tests skip) */
  embedded: boolean;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmapi-pglite-'));
    const db = await startEmbeddedDatabase(dir, 16);
    return {
      url: db.url,
      embedded: true,
      async drop() {
        await db.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `vmapi_t_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    embedded: false,
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
