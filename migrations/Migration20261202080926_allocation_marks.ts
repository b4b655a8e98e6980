import { Migration } from '@mikro-orm/migrations';

// Allocation without loading the world (issue 16): each pool's search starts at its mark
// (src/domain/entities/allocation-mark.ts). Every value below a mark is in use; these triggers keep
// that true for every writer by moving a mark down to any value a delete or an update frees.
export class Migration20261202080926_allocation_marks extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "allocation_mark" ("pool" text not null, "first" bigint not null, "mark" bigint not null, constraint "allocation_mark_pkey" primary key ("pool"));`);

    this.addSql(`create function allocation_mark_free(p text, v bigint) returns void language sql as $$
      update allocation_mark set mark = v where pool = p and mark > v
    $$;`);

    this.addSql(`create function port_rule_frees_values() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        perform allocation_mark_free('rule_number', old.rule_number);
        if old.tcp_port is not null then perform allocation_mark_free('tcp_port', old.tcp_port); end if;
        if old.udp_port is not null then perform allocation_mark_free('udp_port', old.udp_port); end if;
        return old;
      end if;
      if old.rule_number is distinct from new.rule_number then perform allocation_mark_free('rule_number', old.rule_number); end if;
      if old.tcp_port is not null and old.tcp_port is distinct from new.tcp_port then perform allocation_mark_free('tcp_port', old.tcp_port); end if;
      if old.udp_port is not null and old.udp_port is distinct from new.udp_port then perform allocation_mark_free('udp_port', old.udp_port); end if;
      return new;
    end $$;`);
    this.addSql(`create trigger port_rule_frees_values after delete or update of rule_number, tcp_port, udp_port on port_rule for each row execute function port_rule_frees_values();`);

    this.addSql(`create function vm_frees_address() returns trigger language plpgsql as $$
    begin
      if old.internal_ip ~ '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' and (tg_op = 'DELETE' or old.internal_ip is distinct from new.internal_ip) then
        perform allocation_mark_free('lan_address', old.internal_ip::inet - '0.0.0.0'::inet);
      end if;
      return null;
    end $$;`);
    this.addSql(`create trigger vm_frees_address after delete or update of internal_ip on vm for each row execute function vm_frees_address();`);

    // A truncate frees everything.
    this.addSql(`create function allocation_marks_reset() returns trigger language plpgsql as $$
    begin
      delete from allocation_mark;
      return null;
    end $$;`);
    this.addSql(`create trigger port_rule_truncate_resets_marks after truncate on port_rule for each statement execute function allocation_marks_reset();`);
    this.addSql(`create trigger vm_truncate_resets_marks after truncate on vm for each statement execute function allocation_marks_reset();`);

  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists vm_truncate_resets_marks on vm;`);
    this.addSql(`drop trigger if exists port_rule_truncate_resets_marks on port_rule;`);
    this.addSql(`drop trigger if exists vm_frees_address on vm;`);
    this.addSql(`drop trigger if exists port_rule_frees_values on port_rule;`);
    this.addSql(`drop function if exists allocation_marks_reset();`);
    this.addSql(`drop function if exists vm_frees_address();`);
    this.addSql(`drop function if exists port_rule_frees_values();`);
    this.addSql(`drop function if exists allocation_mark_free(text, bigint);`);
    this.addSql(`drop table if exists "allocation_mark" cascade;`);
  }

}
