import { Migration } from '@mikro-orm/migrations';

// Whether the router's running config is saved to its boot config (a failed save is retried and shown).
export class Migration20261201220817_router_state extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "router_state" ("router" text not null, "unsaved_since" timestamptz null, "save_error" text null, "saved_at" timestamptz null, constraint "router_state_pkey" primary key ("router"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "router_state" cascade;`);
  }

}
