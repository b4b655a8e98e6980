import { Migration } from '@mikro-orm/migrations';

// A committed batch's save not made yet (the answer no longer waits for it): a process that stops
// between its answer and its save leaves this set, and the next catch-up saves.
export class Migration20261203160000_save_owed extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "router_state" add column "save_owed_since" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "router_state" drop column "save_owed_since";`);
  }

}
