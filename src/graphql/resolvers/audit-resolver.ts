// The audit trail (ADMIN): every requested change, newest first, filtered (docs/security.md "Audit trail").
import type { EntityManager } from '@mikro-orm/postgresql';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Field, ID, InputType, Info, Int, Query, Resolver } from 'type-graphql';
import { AuditEvent, AuditOutcome, Role } from '../../domain/entities/index.js';
import { badInput } from '../../domain/errors.js';
import { connectionType, keysetPage, pageRequest, selects, timeKey, uuidKey, type Keyset, type Page, type PageRequest, type PageSource } from '../connection.js';
import type { GraphQLContext } from '../context.js';

export const AuditEventConnection = connectionType('AuditEvent', AuditEvent);

@InputType({ description: 'Which audit events `auditEvents` lists; every given field must match.' })
export class AuditEventFilter {
  @Field(() => String, { nullable: true, description: 'The mutation, e.g. `provisionVm`.' })
  operation?: string | null;

  @Field(() => AuditOutcome, { nullable: true, description: 'How it ended.' })
  outcome?: AuditOutcome | null;

  @Field(() => ID, { nullable: true, description: 'Asked for with this API key (its id).' })
  keyId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Named or made this VM.' })
  vmId?: string | null;

  @Field(() => Date, { nullable: true, description: 'At or after this time.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Before this time.' })
  until?: Date | null;

  @Field(() => String, { nullable: true, description: 'Of this request id (`X-Request-Id`).' })
  requestId?: string | null;
}

/** Audit events, newest first: index audit_event_at_id_index, read backwards. */
export const AUDIT_KEYSET: Keyset = { name: 'auditEvent', key: [timeKey('at'), uuidKey('id')], order: 'desc' };

const AUDIT_COLUMNS = `id, at, key_id as "keyId", key_name as "keyName", role, client_address as "clientAddress", transport, request_id as "requestId",
  trace_id as "traceId", operation, operation_name as "operationName", arguments, vm_ids::text[] as "vmIds", port_rule_ids::text[] as "portRuleIds",
  api_key_ids::text[] as "apiKeyIds", outcome, error_code as "errorCode", reason, commands, batch_id as "batchId"`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What to read for a filter (pure). An id that is not a UUID names nothing: nothing matches. */
export function auditSource(f: AuditEventFilter | null | undefined): PageSource {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    where.push(sql);
    params.push(value);
  };
  if (f?.operation != null) add('operation = ?', f.operation);
  if (f?.outcome != null) add('outcome = ?', f.outcome);
  if (f?.requestId != null) add('request_id = ?', f.requestId);
  for (const [value, sql] of [
    [f?.keyId, 'key_id = ?::uuid'], // audit_event_key_id_at_index
    [f?.vmId, 'vm_ids @> array[?::uuid]'], // audit_event_vm_ids_index (GIN)
  ] as const) {
    if (value == null) continue;
    if (UUID.test(value)) add(sql, value);
    else where.push('false');
  }
  if (f?.since != null) add('at >= ?', f.since);
  if (f?.until != null) add('at < ?', f.until);
  return { select: AUDIT_COLUMNS, from: 'audit_event', where, params };
}

export function checkAuditFilter(f: AuditEventFilter | null | undefined): AuditEventFilter | null {
  if (!f) return null;
  for (const [field, v] of [['operation', f.operation], ['requestId', f.requestId]] as const) {
    // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query.
    if (v?.includes('\u0000')) throw badInput(`filter.${field}`, 'must not contain NUL');
  }
  if (f.since && f.until && f.since.getTime() >= f.until.getTime()) throw badInput('filter.until', 'must be after since');
  return f;
}

export function auditEventPage(em: EntityManager, filter: AuditEventFilter | null, req: PageRequest, withCount: boolean): Promise<Page<AuditEvent>> {
  return keysetPage<AuditEvent>(em, AUDIT_KEYSET, auditSource(filter), req, withCount, (row) => {
    row.at = new Date(row.at);
    return row;
  });
}

@Resolver(() => AuditEvent)
export class AuditResolver {
  @Authorized(Role.ADMIN)
  @Query(() => AuditEventConnection, { description: 'The audit trail: every requested change (accepted or refused), newest first (forwards with first/after, backwards with last/before). ADMIN only.' })
  async auditEvents(
    @Ctx() { em }: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => AuditEventFilter, { nullable: true, description: 'Only the events matching every given field.' }) filter?: AuditEventFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'Page size from the newest (or from `after`), 1-200; not with `last`.' }) first?: number | null,
    @Arg('after', () => String, { nullable: true, description: 'The `endCursor` of the previous page: the older events after it.' }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page size from the oldest (or from `before`), 1-200: the events nearest it, still newest first.' }) last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'The `startCursor` of a page: the newer events before it.' }) before?: string | null,
  ) {
    return auditEventPage(em, checkAuditFilter(filter), pageRequest(AUDIT_KEYSET, { first, after, last, before }, info), selects(info, 'totalCount'));
  }
}
