// The audit trail: one info line per mutation, saying which key did what and how it ended, and
// one audit_event row per root mutation field (docs/security.md "Audit trail").
// Lines: HTTP mutations are seen by the Apollo plugin; WebSocket ones by the graphql-ws hooks
// (src/security/ws-guard.ts), both through auditMutation() so the lines look the same.
// Rows: every root Mutation field's resolver is wrapped (auditMutationFields), outside its role
// check, so refusals are seen too; the wrapper opens the field's draft (changes/audit-trail.ts)
// and writes the row itself unless the change's own transaction already did. Fields that never
// ran (the variables did not coerce, a document limit refused the operation) get theirs from the
// plugin and the WebSocket hook (auditUnexecuted).
import type { ApolloServerPlugin } from '@apollo/server';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import {
  defaultFieldResolver,
  GraphQLError,
  Kind,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { rowOf, withAuditDraft, type AuditDraft, type AuditWho } from '../changes/audit-trail.js';
import { addResultIds, affectedByArguments, noneAffected, redactArguments } from '../domain/audit-facts.js';
import { AuditOutcome } from '../domain/entities/index.js';
import { AppError, INTERNAL_ERROR_CODE, toClientError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import type { AuthInfo, GraphQLContext } from './context.js';

export interface AuditEntry {
  /** the mutation's root fields, e.g. "provisionVm" (several when one document holds several) */
  operation: string;
  operationName: string | null;
  auth: AuthInfo | null;
  errors: readonly GraphQLFormattedError[] | undefined;
  requestId: string | null;
  transport: 'http' | 'ws';
  clientAddress?: string | null;
}

/** Writes the audit line. Keys appear by id and name only; never a secret. */
export function auditMutation(logger: Logger, e: AuditEntry): void {
  const codes = [...new Set((e.errors ?? []).map((err) => String(err.extensions?.code ?? 'UNKNOWN')))];
  logger.info(
    {
      audit: true,
      operation: e.operation,
      operationName: e.operationName,
      keyId: e.auth?.keyId ?? null,
      keyName: e.auth?.name ?? null,
      role: e.auth?.role ?? null,
      outcome: codes.length === 0 ? 'ok' : 'error',
      ...(codes.length ? { errorCodes: codes } : {}),
      requestId: e.requestId,
      transport: e.transport,
      ...(e.clientAddress ? { clientAddress: e.clientAddress } : {}),
    },
    `audit: ${e.operation} by ${e.auth ? `key ${e.auth.name} (${e.auth.keyId})` : 'no valid key'}: ${codes.length ? codes.join(',') : 'ok'}`,
  );
}

/** The root field names of an operation (aliases resolved to the real field). */
export function rootFields(operation: OperationDefinitionNode): string {
  return operation.selectionSet.selections
    .map((s) => (s.kind === Kind.FIELD ? s.name.value : s.kind === Kind.INLINE_FRAGMENT ? '…' : `...${s.name.value}`))
    .join(',');
}

/** The operation a document and operationName select, as graphql-js would pick it. */
export function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | null {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return ops.find((o) => o.name?.value === operationName) ?? null;
  return ops.length === 1 ? ops[0] : null;
}

/** Apollo plugin: audits every HTTP mutation that got as far as execution planning. */
export function auditPlugin(logger: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse(rc) {
          const op = rc.operation;
          if (!op || op.operation !== 'mutation') return;
          const body = rc.response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          auditMutation(logger, {
            operation: rootFields(op),
            operationName: rc.operationName ?? null,
            auth: rc.contextValue.auth,
            errors,
            requestId: rc.contextValue.requestId,
            transport: 'http',
          });
          await auditUnexecuted(rc.contextValue, op, rc.request.variables ?? {}, errors);
        },
      };
    },
  };
}

/** The trace the running code belongs to; null with tracing off (there is never an active span then). */
function traceIdNow(): string | null {
  const span = trace.getSpanContext(context.active());
  return span && isSpanContextValid(span) ? span.traceId : null;
}

/** Who is asking, from the request's context. */
function whoOf(ctx: GraphQLContext): AuditWho {
  return {
    keyId: ctx.auth?.keyId ?? null,
    keyName: ctx.auth?.name ?? null,
    role: ctx.auth?.role ?? null,
    clientAddress: ctx.clientAddress ?? null,
    transport: ctx.transport ?? 'http',
    requestId: ctx.requestId ?? null,
    traceId: traceIdNow(),
  };
}

/** The code and message an error leaves with, as the client sees them (internal ones masked). */
function refusalOf(e: unknown): { code: string; message: string } {
  const err = toClientError(e);
  if (err instanceof AppError) return { code: err.code, message: err.message };
  const code = err instanceof GraphQLError ? err.extensions?.code : undefined;
  if (typeof code === 'string') return { code, message: err.message };
  return { code: INTERNAL_ERROR_CODE, message: 'internal error (details in the log under this request id)' };
}

/**
 * Wraps every root Mutation field so each call leaves an audit row. The wrapper sits outside
 * type-graphql's own resolver (and so its role check): UNAUTHENTICATED and FORBIDDEN are recorded.
 */
export function auditMutationFields(schema: GraphQLSchema): void {
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    const resolve: GraphQLFieldResolver<unknown, GraphQLContext> = field.resolve ?? defaultFieldResolver;
    field.resolve = async (root, args: Record<string, unknown>, ctx: GraphQLContext, info) => {
      (ctx.audited ??= new Set()).add(String(info.path.key));
      const draft: AuditDraft = {
        who: whoOf(ctx),
        operation: info.fieldName,
        operationName: info.operation.name?.value ?? null,
        arguments: redactArguments(args),
        affected: affectedByArguments(info.fieldName, args),
        written: false,
      };
      let result: unknown;
      try {
        result = await withAuditDraft(draft, () => resolve(root, args, ctx, info));
      } catch (e) {
        if (!draft.written) {
          const { code, message } = refusalOf(e);
          const batch = draft.batch?.outcome === AuditOutcome.ROLLED_BACK ? draft.batch : null;
          await ctx.app.audit.write(
            rowOf(draft, batch ? AuditOutcome.ROLLED_BACK : AuditOutcome.REFUSED, { errorCode: code, reason: batch?.reason ?? message, commands: batch?.commands, batchId: batch?.batchId }),
          );
        }
        throw e;
      }
      if (!draft.written) {
        addResultIds(draft.affected, draft.operation, result);
        const dry = draft.batch?.outcome === AuditOutcome.DRY_RUN ? draft.batch : null;
        // A real change writes its row in its own transaction: one that did not changed nothing.
        await ctx.app.audit.write(
          dry || args.dryRun === true
            ? rowOf(draft, AuditOutcome.DRY_RUN, { commands: dry?.commands, batchId: dry?.batchId })
            : rowOf(draft, AuditOutcome.COMMITTED, { reason: 'nothing was changed by this request (an idempotent replay, or nothing to change)' }),
        );
      }
      return result;
    };
  }
}

/**
 * Rows for the root fields of a mutation whose resolvers never ran (auditMutationFields saw
 * none of them): the operation was refused as a whole. Their arguments are the request's
 * variables, redacted.
 */
export async function auditUnexecuted(ctx: GraphQLContext, op: OperationDefinitionNode, variables: Record<string, unknown>, errors: readonly GraphQLFormattedError[] | undefined): Promise<void> {
  const first = errors?.[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : 'BAD_USER_INPUT';
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD || sel.name.value.startsWith('__') || ctx.audited?.has(sel.alias?.value ?? sel.name.value)) continue;
    const draft: AuditDraft = {
      who: whoOf(ctx),
      operation: sel.name.value,
      operationName: op.name?.value ?? null,
      arguments: { $variables: redactArguments(variables) },
      affected: noneAffected(),
      written: false,
    };
    await ctx.app.audit.write(rowOf(draft, AuditOutcome.REFUSED, { errorCode: code, reason: first?.message ?? null }));
  }
}
