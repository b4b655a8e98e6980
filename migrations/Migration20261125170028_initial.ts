import { Migration } from '@mikro-orm/migrations';

export class Migration20261125170028_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "api_key" ("id" uuid not null, "name" text not null, "role" text check ("role" in ('VIEWER', 'OPERATOR', 'ADMIN')) not null, "prefix" text not null, "secret_hash" text not null, "created_at" timestamptz not null, "expires_at" timestamptz null, "revoked_at" timestamptz null, constraint "api_key_pkey" primary key ("id"));`);
    this.addSql(`alter table "api_key" add constraint "api_key_prefix_unique" unique ("prefix");`);

    this.addSql(`create table "operation" ("id" uuid not null, "operation" text not null, "state" text check ("state" in ('PENDING', 'ROUTER_COMMITTED', 'CONFIRMED', 'DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED')) not null, "commands" jsonb not null, "inverse" jsonb not null, "confirm_deadline" timestamptz null, "error" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "operation_pkey" primary key ("id"));`);
    this.addSql(`create index "operation_state_index" on "operation" ("state");`);

    this.addSql(`create table "rollback_event" ("id" uuid not null, "at" timestamptz not null, "operation" text not null, "stage" text check ("stage" in ('ROUTER_COMMIT', 'ROUTER_VERIFY', 'ROUTER_CONFIRM', 'DATABASE_COMMIT')) not null, "reason" text not null, "outcome" text check ("outcome" in ('ROLLED_BACK', 'AUTO_REVERTED', 'ROLLBACK_FAILED')) not null, "commands" jsonb not null, constraint "rollback_event_pkey" primary key ("id"));`);
    this.addSql(`create index "rollback_event_at_index" on "rollback_event" ("at");`);

    this.addSql(`create table "vm" ("id" uuid not null, "name" text not null, "internal_ip" text not null, "mac_address" text null, "idempotency_key" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "vm_pkey" primary key ("id"));`);
    this.addSql(`alter table "vm" add constraint "vm_name_unique" unique ("name");`);
    this.addSql(`alter table "vm" add constraint "vm_internal_ip_unique" unique ("internal_ip");`);
    this.addSql(`alter table "vm" add constraint "vm_idempotency_key_unique" unique ("idempotency_key");`);

    this.addSql(`create table "port_rule" ("id" uuid not null, "vm_id" uuid not null, "rule_number" int not null, "protocol" text check ("protocol" in ('TCP', 'UDP', 'TCP_UDP')) not null, "external_port" int not null, "internal_port" int not null, "source_address" text null, "description" text null, "enabled" boolean not null default true, "tcp_port" int null, "udp_port" int null, "needs_repair" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "port_rule_pkey" primary key ("id"));`);
    this.addSql(`create index "port_rule_vm_id_index" on "port_rule" ("vm_id");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_rule_number_unique" unique ("rule_number");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_tcp_port_unique" unique ("tcp_port");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_udp_port_unique" unique ("udp_port");`);

    this.addSql(`alter table "port_rule" add constraint "port_rule_vm_id_foreign" foreign key ("vm_id") references "vm" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "port_rule" drop constraint "port_rule_vm_id_foreign";`);

    this.addSql(`drop table if exists "api_key" cascade;`);

    this.addSql(`drop table if exists "operation" cascade;`);

    this.addSql(`drop table if exists "rollback_event" cascade;`);

    this.addSql(`drop table if exists "vm" cascade;`);

    this.addSql(`drop table if exists "port_rule" cascade;`);
  }

}
