import { Migration } from '@mikro-orm/migrations';

// Capacity (docs/monitoring.md#capacity) counts the VM addresses inside LAN_POOL: internal_ip is
// text, so the range is a range of its inet value, one scan of this index.
export class Migration20261202125201_capacity_index extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "vm_internal_ip_inet_index" on "vm" (("internal_ip"::inet));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "vm_internal_ip_inet_index";`);
  }

}
