// The audit trail: one info line per mutation, saying which key did what and how it ended.
// HTTP mutations are seen by the Apollo plugin; WebSocket ones by the graphql-ws hooks
// (src/security/ws-guard.ts), both through auditMutation() so the lines look the same.
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
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
          auditMutation(logger, {
            operation: rootFields(op),
            operationName: rc.operationName ?? null,
            auth: rc.contextValue.auth,
            errors: body.kind === 'single' ? body.singleResult.errors : undefined,
            requestId: rc.contextValue.requestId,
            transport: 'http',
          });
        },
      };
    },
  };
}
