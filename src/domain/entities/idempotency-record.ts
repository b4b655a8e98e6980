import { Entity, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A client's idempotency key and what its first request did (src/changes/idempotency.ts). Written
 * in the batch transaction of the change it belongs to, so a key exists exactly when its change
 * committed; the primary key keeps two concurrent first requests from both applying.
 */
@Entity({ tableName: 'idempotency_key' })
export class IdempotencyRecord {
  [OptionalProps]?: 'createdAt' | 'inputHash' | 'result';

  @PrimaryKey({ type: 'text' })
  key!: string;

  /** the mutation that used the key (provisionVm, addPortRule, applyVm, createApiKey) */
  @Property({ type: 'text' })
  operation!: string;

  /** sha256 of the normalized input; null for keys carried over from vm.idempotency_key (any input matches) */
  @Property({ type: 'text', nullable: true })
  inputHash?: string | null;

  /** the id of what the first request made (VM, port rule, API key) */
  @Property({ type: 'text' })
  resultRef!: string;

  /** the first result, where it is more than the id (applyVm's per-rule changes) */
  @Property({ type: 'json', nullable: true })
  result?: unknown;

  /** rows older than IDEMPOTENCY_RETENTION_HOURS are ignored and purged */
  @Property({ type: 'timestamptz' })
  @Index()
  createdAt: Date = new Date();
}
