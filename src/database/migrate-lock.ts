// Replicas that start together must not run migrations concurrently: whoever takes the lock
// migrates, the others wait and then find nothing pending.
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';

export async function migrateUp(orm: MikroORM, url: string, opts: { lock: boolean }): Promise<string[]> {
  if (!opts.lock) return (await orm.getMigrator().up()).map((m) => m.name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`select pg_advisory_lock(hashtext('vyos-vm-api:migrations'))`);
    return (await orm.getMigrator().up()).map((m) => m.name);
  } finally {
    // closing the session releases the lock even if the unlock is never reached
    await client.end().catch(() => {});
  }
}
