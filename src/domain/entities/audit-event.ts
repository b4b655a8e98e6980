import { Entity, Enum, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { JSONObjectResolver } from 'graphql-scalars';
import { randomUUID } from 'node:crypto';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { RouterCommand } from '../../vyos/types.js';
import { Role } from './api-key.js';
import { RouterCommandType } from './rollback-event.js';

export enum AuditOutcome {
  COMMITTED = 'COMMITTED',
  REFUSED = 'REFUSED',
  ROLLED_BACK = 'ROLLED_BACK',
  DRY_RUN = 'DRY_RUN',
}
registerEnumType(AuditOutcome, {
  name: 'AuditOutcome',
  description: 'How a requested change ended.',
  valuesConfig: {
    COMMITTED: { description: 'The change committed; its row was written in the same database transaction.' },
    REFUSED: { description: 'Refused before it was carried out (key, role, input, conflict, a busy or unreachable router): nothing changed. `errorCode` says why.' },
    ROLLED_BACK: { description: 'Accepted, then undone: the batch failed at or after the router commit, the database was rolled back (see `rollbackEvents` for the router side). `errorCode` and `reason` say why.' },
    DRY_RUN: { description: 'A dry run: `commands` is what would have been sent; nothing changed.' },
  },
});

export type AuditTransport = 'http' | 'ws';

/**
 * One requested change (a root mutation field), who asked for it and how it ended
 * (docs/security.md "Audit trail"). A committed change's row commits with it; a refused or
 * rolled-back one is written afterwards in a transaction of its own. Not a Node: `node(id:)` is
 * for VIEWERs, the trail for ADMINs only.
 */
@ObjectType('AuditEvent', { simpleResolvers: true, description: 'One requested change: who asked, what, and how it ended. Arguments are stored with secrets redacted.' })
@Entity({ tableName: 'audit_event' })
// the order of `auditEvents`, newest first (read backwards); also serves since/until and retention
@Index({ properties: ['at', 'id'] })
@Index({ properties: ['keyId', 'at'] })
@Index({ properties: ['requestId'] })
// `vmId` filter: a GIN index over the affected VM ids
@Index({ properties: ['vmIds'], type: 'gin' })
export class AuditEvent {
  [OptionalProps]?: 'at' | 'commands' | 'vmIds' | 'portRuleIds' | 'apiKeyIds';

  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field({ description: 'When the row was written (microseconds; for a committed change, inside its commit).' })
  @Property({ type: 'timestamptz', defaultRaw: 'clock_timestamp()' })
  at!: Date;

  @Field(() => ID, { nullable: true, description: 'The API key that asked (its id, never its secret); null without a valid key.' })
  @Property({ type: 'uuid', nullable: true })
  keyId?: string | null;

  @Field(() => String, { nullable: true, description: "The key's name when it asked." })
  @Property({ type: 'text', nullable: true })
  keyName?: string | null;

  @Field(() => Role, { nullable: true, description: "The key's role when it asked." })
  @Enum({ items: () => Role, nullable: true })
  role?: Role | null;

  @Field(() => String, { nullable: true, description: 'The client address (after TRUST_PROXY_HOPS).' })
  @Property({ type: 'text', nullable: true })
  clientAddress?: string | null;

  @Field({ description: '`http` or `ws`.' })
  @Property({ type: 'text' })
  transport!: AuditTransport;

  @Field(() => String, { nullable: true, description: 'The request id (`X-Request-Id`, or generated), as in the log lines.' })
  @Property({ type: 'text', nullable: true })
  requestId?: string | null;

  @Field(() => String, { nullable: true, description: 'The OpenTelemetry trace id of the request (as `trace_id` in the log lines); null with tracing off.' })
  @Property({ type: 'text', nullable: true })
  traceId?: string | null;

  @Field({ description: 'The mutation, e.g. `provisionVm`.' })
  @Property({ type: 'text' })
  operation!: string;

  @Field(() => String, { nullable: true, description: "The GraphQL document's operation name, when it has one." })
  @Property({ type: 'text', nullable: true })
  operationName?: string | null;

  @Field(() => JSONObjectResolver, { description: 'The arguments as given, secrets redacted (docs/security.md "Audit trail").' })
  @Property({ type: 'json' })
  arguments!: Record<string, unknown>;

  @Field(() => [ID], { description: 'VMs the change named or made.' })
  @Property({ type: 'string[]', columnType: 'uuid[]' })
  vmIds: string[] = [];

  @Field(() => [ID], { description: 'Port rules the change named or made.' })
  @Property({ type: 'string[]', columnType: 'uuid[]' })
  portRuleIds: string[] = [];

  @Field(() => [ID], { description: 'API keys the change named or made.' })
  @Property({ type: 'string[]', columnType: 'uuid[]' })
  apiKeyIds: string[] = [];

  @Field(() => AuditOutcome, { description: 'How it ended.' })
  @Enum({ items: () => AuditOutcome })
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true, description: 'For REFUSED and ROLLED_BACK: the `extensions.code` the client got.' })
  @Property({ type: 'text', nullable: true })
  errorCode?: string | null;

  @Field(() => String, { nullable: true, description: 'For REFUSED and ROLLED_BACK: why (the error message, or the rollback reason).' })
  @Property({ type: 'text', nullable: true })
  reason?: string | null;

  @Field(() => [RouterCommandType], { description: 'The set/delete commands the batch sent (or, for a dry run, would send) for this change.' })
  @Property({ type: 'json' })
  commands: RouterCommand[] = [];

  @Field(() => ID, { nullable: true, description: 'The batch that carried it (`batchId` of its log lines): changes with the same batch id shared one router commit.' })
  @Property({ type: 'uuid', nullable: true })
  batchId?: string | null;
}
