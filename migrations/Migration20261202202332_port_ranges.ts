import { Migration } from '@mikro-orm/migrations';

// Port ranges (docs/operations.md "Port ranges"): a rule claims port_count ports from its start
// port per transport, and no two rules' claims may overlap, even under concurrent writers. The
// claims' GiST indexes also answer the externalPort filters, so the plain external_port index goes.
export class Migration20261202202332_port_ranges extends Migration {

  override async up(): Promise<void> {
    this.addSql(`drop index "port_rule_external_port_index";`);

    this.addSql(`alter table "port_rule" add column "port_count" int not null default 1;`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_udp_ports_excl" exclude using gist ((case when "udp_port" is not null then int4range("udp_port", "udp_port" + "port_count") end) with &&);`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_tcp_ports_excl" exclude using gist ((case when "tcp_port" is not null then int4range("tcp_port", "tcp_port" + "port_count") end) with &&);`);
  }

  override async down(): Promise<void> {
    // the indexes belong to the constraints: dropping a constraint drops its index
    this.addSql(`alter table "port_rule" drop constraint "port_rule_udp_ports_excl";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_tcp_ports_excl";`);
    this.addSql(`alter table "port_rule" drop column "port_count";`);

    this.addSql(`create index "port_rule_external_port_index" on "port_rule" ("external_port");`);
  }

}
