// The benchmarks' database: a fresh one on a real PostgreSQL server, dropped afterwards.
import { createTestDatabase, type TestDatabase } from '../test/support/database.js';

export async function benchDatabase(): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!admin) {
    // PGlite serves one session at a time: its figures would measure PGlite, not the server.
    throw new Error('set TEST_DATABASE_URL (or DATABASE_URL) to a PostgreSQL the benchmark may create a database on, e.g. postgresql://postgres@127.0.0.1:5432/postgres');
  }
  process.env.TEST_DATABASE_URL = admin;
  return createTestDatabase();
}
