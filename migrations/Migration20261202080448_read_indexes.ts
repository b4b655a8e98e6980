import { Migration } from '@mikro-orm/migrations';

// Reads whose cost does not grow with the fleet (docs/performance.md#pagination): each list's
// order is an index, so a page is one range scan of it. vms: (created_at, id); rollbackEvents:
// (at, id), read backwards (it replaces the index on at alone, which it also serves); and the
// externalPort filters of vms and portRules. Port rules by VM use port_rule_vm_id_index (initial).
export class Migration20261202080448_read_indexes extends Migration {

  override async up(): Promise<void> {
    this.addSql(`drop index "rollback_event_at_index";`);

    this.addSql(`create index "rollback_event_at_id_index" on "rollback_event" ("at", "id");`);

    this.addSql(`create index "vm_created_at_id_index" on "vm" ("created_at", "id");`);

    this.addSql(`create index "port_rule_external_port_index" on "port_rule" ("external_port");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "port_rule_external_port_index";`);

    this.addSql(`drop index "rollback_event_at_id_index";`);

    this.addSql(`create index "rollback_event_at_index" on "rollback_event" ("at");`);

    this.addSql(`drop index "vm_created_at_id_index";`);
  }

}
