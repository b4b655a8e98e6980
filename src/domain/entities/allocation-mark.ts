import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * Where a pool's search for a free value starts (issue 16: allocation without loading the world).
 * Invariant: every value v with `first <= v < mark` is in use in the database. Allocation moves the
 * mark up in the batch transaction that takes the value; triggers on `port_rule` and `vm` (migration
 * `allocation_marks`) move it down whenever a value is freed, by any writer, so a freed value is
 * found again and "the lowest free value" stays exact.
 */
@Entity({ tableName: 'allocation_mark' })
export class AllocationMark {
  /** `<router>:<pool>`, pool one of `rule_number`, `tcp_port`, `udp_port`, `lan_address` (each router's are its own; plain names are a previous release's) */
  @PrimaryKey({ type: 'text' })
  pool!: string;

  /** the first value of the configured range the mark was set for (a changed range starts afresh) */
  @Property({ type: 'bigint' })
  first!: string;

  @Property({ type: 'bigint' })
  mark!: string;
}
