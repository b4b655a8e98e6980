import { Entity, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

/**
 * A published driftDetected report, kept briefly so every replica can load it whole: a NOTIFY
 * payload (8000 bytes) carries only its id (src/changes/event-bus.ts).
 */
@Entity({ tableName: 'drift_report' })
export class DriftReport {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** the report as published (SyncReportData as JSON) */
  @Property({ type: 'json' })
  report!: unknown;

  @Property({ type: 'timestamptz' })
  @Index()
  createdAt: Date = new Date();
}
