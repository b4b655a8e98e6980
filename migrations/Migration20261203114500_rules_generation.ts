import { Migration } from '@mikro-orm/migrations';

// A generation per router that moves with every change to its vm and port_rule rows (issue 16:
// the drift check reads 30,000 expected rules again only when one of them may have changed).
// Statement triggers with transition tables: one update of the router row per statement, so a
// bulk insert costs one, and writers that bypass the API (psql, a restore) move it too.
export class Migration20261203114500_rules_generation extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "router" add column "rules_generation" bigint not null default 0;`);
    // Once per router and transaction is enough (readers see the committed value move or not);
    // the routers moved so far ride in a transaction-local setting, undone with a rolled-back
    // savepoint like the update itself. Without it a transaction of many statements would stack
    // a version of the router row per statement.
    this.addSql(`create function router_rules_changed() returns trigger language plpgsql as $$
    declare
      moved text[] := coalesce(nullif(current_setting('vmapi.rules_moved', true), '')::text[], '{}');
      changed text[];
    begin
      if tg_op = 'TRUNCATE' then
        update router set rules_generation = rules_generation + 1;
        return null;
      elsif tg_op = 'INSERT' then
        select array_agg(distinct router) into changed from new_rows;
      elsif tg_op = 'DELETE' then
        select array_agg(distinct router) into changed from old_rows;
      else
        select array_agg(distinct router) into changed from (select router from new_rows union select router from old_rows) r;
      end if;
      changed := array(select unnest(changed) except select unnest(moved));
      if cardinality(changed) > 0 then
        update router set rules_generation = rules_generation + 1 where name = any(changed);
        perform set_config('vmapi.rules_moved', (moved || changed)::text, true);
      end if;
      return null;
    end $$;`);
    for (const table of ['vm', 'port_rule']) {
      this.addSql(`create trigger ${table}_rules_inserted after insert on "${table}" referencing new table as new_rows for each statement execute function router_rules_changed();`);
      this.addSql(`create trigger ${table}_rules_updated after update on "${table}" referencing old table as old_rows new table as new_rows for each statement execute function router_rules_changed();`);
      this.addSql(`create trigger ${table}_rules_deleted after delete on "${table}" referencing old table as old_rows for each statement execute function router_rules_changed();`);
      this.addSql(`create trigger ${table}_rules_truncated after truncate on "${table}" for each statement execute function router_rules_changed();`);
    }
  }

  override async down(): Promise<void> {
    for (const table of ['vm', 'port_rule']) {
      for (const event of ['inserted', 'updated', 'deleted', 'truncated']) this.addSql(`drop trigger ${table}_rules_${event} on "${table}";`);
    }
    this.addSql(`drop function router_rules_changed();`);
    this.addSql(`alter table "router" drop column "rules_generation";`);
  }

}
