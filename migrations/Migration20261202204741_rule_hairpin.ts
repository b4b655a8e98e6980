import { Migration } from '@mikro-orm/migrations';

// Per-rule hairpin (docs/operations.md "Hairpin"): null follows VYOS_HAIRPIN_DEFAULT, so every
// existing rule keeps what the server-wide switch gave it.
export class Migration20261202204741_rule_hairpin extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "port_rule" add column "hairpin" boolean null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "port_rule" drop column "hairpin";`);
  }

}
