import { Migration } from '@mikro-orm/migrations';

// Rate limits shared by every replica (src/security/rate-limit.ts): one row per budget in use, and
// an API key's own limits. The buckets are UNLOGGED: counters need no WAL, no replica and no crash
// recovery (after a crash every budget starts full, which is what an empty table means).
export class Migration20261201221445_rate_limits extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create unlogged table "rate_limit_bucket" ("id" text not null, "full_at" timestamptz not null, constraint "rate_limit_bucket_pkey" primary key ("id"));`);
    this.addSql(`create index "rate_limit_bucket_full_at_index" on "rate_limit_bucket" ("full_at");`);

    this.addSql(`alter table "api_key" add column "writes_per_minute" int null, add column "reads_per_minute" int null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "rate_limit_bucket" cascade;`);

    this.addSql(`alter table "api_key" drop column "writes_per_minute", drop column "reads_per_minute";`);
  }

}
