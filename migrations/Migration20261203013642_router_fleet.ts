import { Migration } from '@mikro-orm/migrations';

// A fleet of routers (issue 18, docs/operations.md "A fleet of routers"): routers become rows, and
// every VM, rule, journal entry, snapshot, rollback event and allocation mark belongs to one.
// Addresses, ports and rule numbers are unique per router. An existing install's rows all go to
// one router row: router_state's name for it (ROUTER_NAME as the previous release wrote it), or ''
// when it has none, which the next start renames to ROUTER_NAME (src/fleet/routers.ts): no manual step.
const CLAIM = (c: string) => `(case when "${c}" is not null then int4range("${c}", "${c}" + "port_count") end)`;

export class Migration20261203013642_router_fleet extends Migration {

  override async up(): Promise<void> {
    // GiST with text equality, for "same router and overlapping ports" (a trusted extension)
    this.addSql(`create extension if not exists btree_gist;`);
    this.addSql(`create table "router" ("name" text not null, "url" text null, "key_ref" text null, "tls_insecure" boolean not null default false, "ca_file" text null, "wan_interface" text null, "syntax" text null, "commit_confirm" text null, "nat_rule_range" text null, "external_port_range" text null, "lan_pool" text null, "lifecycle" text check ("lifecycle" in ('ENABLED', 'DRAINING')) not null default 'ENABLED', "from_env" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "router_pkey" primary key ("name"));`);
    this.addSql(`insert into "router" ("name", "from_env", "created_at", "updated_at")
      values (coalesce((select "router" from "router_state" order by "router" limit 1), ''), true, now(), now());`);

    // A mark only speeds up the search: each router's start afresh, keyed `<router>:<pool>`.
    this.addSql(`delete from "allocation_mark";`);

    this.addSql(`alter table "operation" add column "router" text null;`);
    this.addSql(`update "operation" set "router" = (select "name" from "router");`);
    this.addSql(`alter table "operation" alter column "router" set not null;`);
    this.addSql(`create index "operation_router_index" on "operation" ("router");`);

    this.addSql(`alter table "rollback_event" add column "router" text null;`);
    this.addSql(`update "rollback_event" set "router" = (select "name" from "router");`);
    this.addSql(`alter table "rollback_event" alter column "router" set not null;`);

    this.addSql(`alter table "snapshot" drop constraint "snapshot_slot_unique";`);

    this.addSql(`alter table "snapshot" add column "router" text null;`);
    this.addSql(`update "snapshot" set "router" = (select "name" from "router");`);
    this.addSql(`alter table "snapshot" alter column "router" set not null;`);
    this.addSql(`alter table "snapshot" add constraint "snapshot_router_slot_unique" unique ("router", "slot");`);

    this.addSql(`alter table "vm" drop constraint "vm_internal_ip_unique";`);

    this.addSql(`alter table "vm" add column "router" text null;`);
    this.addSql(`update "vm" set "router" = (select "name" from "router");`);
    this.addSql(`alter table "vm" alter column "router" set not null;`);
    this.addSql(`alter table "vm" add constraint "vm_router_foreign" foreign key ("router") references "router" ("name") on update cascade on delete restrict;`);
    this.addSql(`create index "vm_router_index" on "vm" ("router");`);
    this.addSql(`alter table "vm" add constraint "vm_router_internal_ip_unique" unique ("router", "internal_ip");`);
    this.addSql(`create index "vm_internal_ip_index" on "vm" ("internal_ip");`);

    this.addSql(`alter table "port_rule" drop constraint "port_rule_rule_number_unique";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_tcp_port_unique";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_udp_port_unique";`);

    this.addSql(`alter table "port_rule" add column "router" text null;`);
    this.addSql(`update "port_rule" set "router" = (select "name" from "router");`);
    this.addSql(`alter table "port_rule" alter column "router" set not null;`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_router_foreign" foreign key ("router") references "router" ("name") on update cascade on delete restrict;`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_router_udp_port_unique" unique ("router", "udp_port");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_router_tcp_port_unique" unique ("router", "tcp_port");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_router_rule_number_unique" unique ("router", "rule_number");`);
    this.addSql(`create index "port_rule_rule_number_id_index" on "port_rule" ("rule_number", "id");`);

    // the port claims' exclusion constraints, now per router
    this.addSql(`alter table "port_rule" drop constraint "port_rule_tcp_ports_excl";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_udp_ports_excl";`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_tcp_ports_excl" exclude using gist ("router" with =, ${CLAIM('tcp_port')} with &&);`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_udp_ports_excl" exclude using gist ("router" with =, ${CLAIM('udp_port')} with &&);`);

    // Rows written without a router (a previous release's replica during a rollout) belong to the
    // environment's router; a rule always to its VM's (the copy cannot go wrong).
    this.addSql(`create function router_default() returns trigger language plpgsql as $$
    begin
      if new.router is null then new.router := (select name from router where from_env order by updated_at desc limit 1); end if;
      return new;
    end $$;`);
    for (const table of ['vm', 'operation', 'snapshot', 'rollback_event']) {
      this.addSql(`create trigger ${table}_router_default before insert on "${table}" for each row execute function router_default();`);
    }
    this.addSql(`create function port_rule_router() returns trigger language plpgsql as $$
    begin
      new.router := (select router from vm where id = new.vm_id);
      return new;
    end $$;`);
    this.addSql(`create trigger port_rule_router before insert or update of vm_id on port_rule for each row execute function port_rule_router();`);

    // the triggers that move a mark down to a freed value: the router's mark
    this.addSql(`drop function if exists allocation_mark_free(text, bigint);`);
    this.addSql(`create function allocation_mark_free(r text, p text, v bigint) returns void language sql as $$
      update allocation_mark set mark = v where pool = r || ':' || p and mark > v
    $$;`);
    this.addSql(`create or replace function port_rule_frees_values() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        perform allocation_mark_free(old.router, 'rule_number', old.rule_number);
        if old.tcp_port is not null then perform allocation_mark_free(old.router, 'tcp_port', old.tcp_port); end if;
        if old.udp_port is not null then perform allocation_mark_free(old.router, 'udp_port', old.udp_port); end if;
        return old;
      end if;
      if old.rule_number is distinct from new.rule_number then perform allocation_mark_free(old.router, 'rule_number', old.rule_number); end if;
      if old.tcp_port is not null and old.tcp_port is distinct from new.tcp_port then perform allocation_mark_free(old.router, 'tcp_port', old.tcp_port); end if;
      if old.udp_port is not null and old.udp_port is distinct from new.udp_port then perform allocation_mark_free(old.router, 'udp_port', old.udp_port); end if;
      return new;
    end $$;`);
    this.addSql(`create or replace function vm_frees_address() returns trigger language plpgsql as $$
    begin
      if old.internal_ip ~ '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' and (tg_op = 'DELETE' or old.internal_ip is distinct from new.internal_ip) then
        perform allocation_mark_free(old.router, 'lan_address', old.internal_ip::inet - '0.0.0.0'::inet);
      end if;
      return null;
    end $$;`);
  }

  // Down works while every VM is on one router (two routers' rows may collide once merged).
  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists port_rule_router on port_rule;`);
    this.addSql(`drop function if exists port_rule_router();`);
    for (const table of ['vm', 'operation', 'snapshot', 'rollback_event']) this.addSql(`drop trigger if exists ${table}_router_default on "${table}";`);
    this.addSql(`drop function if exists router_default();`);
    this.addSql(`drop function if exists allocation_mark_free(text, text, bigint);`);
    this.addSql(`create function allocation_mark_free(p text, v bigint) returns void language sql as $$
      update allocation_mark set mark = v where pool = p and mark > v
    $$;`);
    this.addSql(`create or replace function port_rule_frees_values() returns trigger language plpgsql as $$
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
    this.addSql(`create or replace function vm_frees_address() returns trigger language plpgsql as $$
    begin
      if old.internal_ip ~ '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' and (tg_op = 'DELETE' or old.internal_ip is distinct from new.internal_ip) then
        perform allocation_mark_free('lan_address', old.internal_ip::inet - '0.0.0.0'::inet);
      end if;
      return null;
    end $$;`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_tcp_ports_excl";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_udp_ports_excl";`);
    this.addSql(`delete from "allocation_mark";`);
    this.addSql(`alter table "vm" drop constraint "vm_router_foreign";`);

    this.addSql(`alter table "port_rule" drop constraint "port_rule_router_foreign";`);

    this.addSql(`drop table if exists "router" cascade;`);


    this.addSql(`drop index "operation_router_index";`);
    this.addSql(`alter table "operation" drop column "router";`);

    this.addSql(`alter table "port_rule" drop constraint "port_rule_router_udp_port_unique";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_router_tcp_port_unique";`);
    this.addSql(`alter table "port_rule" drop constraint "port_rule_router_rule_number_unique";`);
    this.addSql(`drop index "port_rule_rule_number_id_index";`);
    this.addSql(`alter table "port_rule" drop column "router";`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_tcp_ports_excl" exclude using gist (${CLAIM('tcp_port')} with &&);`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_udp_ports_excl" exclude using gist (${CLAIM('udp_port')} with &&);`);

    this.addSql(`alter table "port_rule" add constraint "port_rule_rule_number_unique" unique ("rule_number");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_tcp_port_unique" unique ("tcp_port");`);
    this.addSql(`alter table "port_rule" add constraint "port_rule_udp_port_unique" unique ("udp_port");`);

    this.addSql(`alter table "rollback_event" drop column "router";`);

    this.addSql(`alter table "snapshot" drop constraint "snapshot_router_slot_unique";`);
    this.addSql(`alter table "snapshot" drop column "router";`);

    this.addSql(`alter table "snapshot" add constraint "snapshot_slot_unique" unique ("slot");`);

    this.addSql(`drop index "vm_router_index";`);
    this.addSql(`alter table "vm" drop constraint "vm_router_internal_ip_unique";`);
    this.addSql(`drop index "vm_internal_ip_index";`);
    this.addSql(`alter table "vm" drop column "router";`);

    this.addSql(`alter table "vm" add constraint "vm_internal_ip_unique" unique ("internal_ip");`);
    // nothing else of ours uses it
    this.addSql(`drop extension if exists btree_gist;`);
  }

}
