import { Migration } from '@mikro-orm/migrations';

// Idempotency keys for every create and apply (src/changes/idempotency.ts), and port rule names
// (applyVm matches rules by them; unique per VM, NULL for unnamed rules).
// provisionVm's keys so far lived in vm.idempotency_key: they are carried over with no input hash
// (any input matches, as before) and a fresh retention window. The column is no longer written;
// it stays for replicas of the previous release during a rollout and goes in a later release.
export class Migration20261202080532_idempotency extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_key" ("key" text not null, "operation" text not null, "input_hash" text null, "result_ref" text not null, "result" jsonb null, "created_at" timestamptz not null, constraint "idempotency_key_pkey" primary key ("key"));`);
    this.addSql(`create index "idempotency_key_created_at_index" on "idempotency_key" ("created_at");`);
    this.addSql(`insert into "idempotency_key" ("key", "operation", "input_hash", "result_ref", "result", "created_at") select "idempotency_key", 'provisionVm', null, "id"::text, null, now() from "vm" where "idempotency_key" is not null;`);

    this.addSql(`alter table "port_rule" add column "name" text null;`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_vm_id_name_unique" unique ("vm_id", "name");`);
  }

  override async down(): Promise<void> {
    // Keys used since the upgrade are forgotten (vm.idempotency_key still has the older provisionVm ones).
    this.addSql(`drop table if exists "idempotency_key" cascade;`);

    this.addSql(`alter table "port_rule" drop constraint "port_rule_vm_id_name_unique";`);
    this.addSql(`alter table "port_rule" drop column "name";`);
  }

}
