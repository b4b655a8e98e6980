import { Migration } from '@mikro-orm/migrations';

// Every statement that changes a table cached reads show NOTIFYs vyos_vm_api_changes (delivered at
// commit, once per transaction), so every replica's read cache learns of changes made anywhere:
// by another replica, by a migration, by hand in psql. src/database/change-feed.ts listens.
const TABLES = ['vm', 'port_rule', 'rollback_event', 'api_key'];

export class Migration20261125190000_change_notifications extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create or replace function vyos_vm_api_notify_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('vyos_vm_api_changes', tg_table_name);
  return null;
end $$;`);
    for (const table of TABLES) {
      this.addSql(`create trigger "${table}_notify_change" after insert or update or delete or truncate on "${table}" for each statement execute function vyos_vm_api_notify_change();`);
    }
  }

  override async down(): Promise<void> {
    for (const table of TABLES) this.addSql(`drop trigger if exists "${table}_notify_change" on "${table}";`);
    this.addSql(`drop function if exists vyos_vm_api_notify_change();`);
  }

}
