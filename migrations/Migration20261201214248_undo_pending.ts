import { Migration } from '@mikro-orm/migrations';

// Journal state UNDO_PENDING: a failed change whose undo the router has not reached yet (resumed until it has).
export class Migration20261201214248_undo_pending extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "operation" drop constraint if exists "operation_state_check";`);

    this.addSql(`alter table "operation" add constraint "operation_state_check" check("state" in ('PENDING', 'ROUTER_COMMITTED', 'CONFIRMED', 'DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED', 'UNDO_PENDING'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "operation" drop constraint if exists "operation_state_check";`);
    this.addSql(`update "operation" set "state" = 'ROLLBACK_FAILED' where "state" = 'UNDO_PENDING';`);

    this.addSql(`alter table "operation" add constraint "operation_state_check" check("state" in ('PENDING', 'ROUTER_COMMITTED', 'CONFIRMED', 'DONE', 'ROLLED_BACK', 'ROLLBACK_FAILED'));`);
  }

}
