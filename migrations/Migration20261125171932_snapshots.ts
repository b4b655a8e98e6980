import { Migration } from '@mikro-orm/migrations';

export class Migration20261125171932_snapshots extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "snapshot" ("id" uuid not null, "slot" int not null, "file" text not null, "reason" text not null, "operation" text null, "created_at" timestamptz not null, constraint "snapshot_pkey" primary key ("id"));`);
    this.addSql(`alter table "snapshot" add constraint "snapshot_slot_unique" unique ("slot");`);
    this.addSql(`create index "snapshot_created_at_index" on "snapshot" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "snapshot" cascade;`);
  }

}
