import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * One rate-limit budget shared by every replica (src/security/rate-limit.ts): an API key's or a
 * client address's reads or writes. The row holds the instant the bucket is full again; a row
 * whose instant has passed means the same as no row, and is deleted now and then.
 */
@Entity({ tableName: 'rate_limit_bucket' })
export class RateLimitBucket {
  /** `k:<key id>:read|write` or `a:<client address>:read|write` */
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'timestamptz' })
  @Index()
  fullAt!: Date;
}
