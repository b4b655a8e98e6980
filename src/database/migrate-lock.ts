// Replicas that start together must not run migrations concurrently: whoever takes the lock
// migrates, the others wait and then find nothing pending.
import { Migrator } from '@mikro-orm/migrations';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';

/** Runs `fn` holding the migration lock (a session advisory lock on a connection of its own). */
export async function withMigrationLock<T>(url: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`select pg_advisory_lock(hashtext('vyos-vm-api:migrations'))`);
    return await fn();
  } finally {
    // closing the session releases the lock even if the unlock is never reached
    await client.end().catch(() => {});
  }
}

export async function migrateUp(orm: MikroORM, url: string, opts: { lock: boolean }): Promise<string[]> {
  const up = async () => (await orm.getMigrator().up()).map((m) => m.name);
  return opts.lock ? withMigrationLock(url, up) : up();
}

/**
 * The migrator of the standard `mikro-orm` CLI (mikro-orm.config.ts): its migration:up, down and
 * fresh wait for the same lock as server start and `migrate-cli.js up`.
 */
export class LockingMigrator extends Migrator {
  private url = '';

  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/migrator', () => {
      const migrator = new LockingMigrator(orm.em);
      migrator.url = orm.config.getClientUrl();
      return migrator;
    });
  }

  override up(options?: Parameters<Migrator['up']>[0]) {
    return withMigrationLock(this.url, () => super.up(options));
  }

  override down(options?: Parameters<Migrator['down']>[0]) {
    return withMigrationLock(this.url, () => super.down(options));
  }
}
