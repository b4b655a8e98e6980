import { Migration } from '@mikro-orm/migrations';

// The audit trail (src/changes/audit-trail.ts, docs/security.md "Audit trail"): one row per
// requested change. `at` is set by PostgreSQL (clock_timestamp(): microseconds, the moment of the
// insert) so the (at, id) keyset of `auditEvents` orders rows as they were written; the GIN index
// serves the vmId filter, (key_id, at) the keyId filter, (at, id) the pages and the retention prune.

export class Migration20261202131012_audit_events extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "audit_event" ("id" uuid not null, "at" timestamptz not null default clock_timestamp(), "key_id" uuid null, "key_name" text null, "role" text check ("role" in ('VIEWER', 'OPERATOR', 'ADMIN')) null, "client_address" text null, "transport" text not null, "request_id" text null, "trace_id" text null, "operation" text not null, "operation_name" text null, "arguments" jsonb not null, "vm_ids" uuid[] not null, "port_rule_ids" uuid[] not null, "api_key_ids" uuid[] not null, "outcome" text check ("outcome" in ('COMMITTED', 'REFUSED', 'ROLLED_BACK', 'DRY_RUN')) not null, "error_code" text null, "reason" text null, "commands" jsonb not null, "batch_id" uuid null, constraint "audit_event_pkey" primary key ("id"));`);
    this.addSql(`create index "audit_event_vm_ids_index" on "audit_event" using gin ("vm_ids");`);
    this.addSql(`create index "audit_event_request_id_index" on "audit_event" ("request_id");`);
    this.addSql(`create index "audit_event_key_id_at_index" on "audit_event" ("key_id", "at");`);
    this.addSql(`create index "audit_event_at_id_index" on "audit_event" ("at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "audit_event" cascade;`);
  }

}
