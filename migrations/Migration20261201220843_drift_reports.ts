import { Migration } from '@mikro-orm/migrations';

// driftDetected reports travel between replicas by reference: NOTIFY carries the row id, each
// replica loads the whole report (a payload is limited to 8000 bytes). Rows are pruned after an hour.
export class Migration20261201220843_drift_reports extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "drift_report" ("id" uuid not null, "report" jsonb not null, "created_at" timestamptz not null, constraint "drift_report_pkey" primary key ("id"));`);
    this.addSql(`create index "drift_report_created_at_index" on "drift_report" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "drift_report" cascade;`);
  }

}
