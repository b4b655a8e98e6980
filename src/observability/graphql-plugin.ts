// GraphQL metrics and log details as one Apollo plugin (style.md: cross-cutting concerns are
// plugins beside the server, not code in every resolver).
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { requestRecordOf } from './http.js';
import { OTHER, errorCodeLabel, type AppMetrics, type OperationType } from './metrics.js';

/** The root field names of each operation type: the closed set operation labels come from. */
export type RootFields = Record<'query' | 'mutation' | 'subscription', ReadonlySet<string>>;

export function rootFieldsOf(schema: GraphQLSchema): RootFields {
  const names = (t: { getFields(): Record<string, unknown> } | null | undefined) => new Set(t ? Object.keys(t.getFields()) : []);
  return { query: names(schema.getQueryType()), mutation: names(schema.getMutationType()), subscription: names(schema.getSubscriptionType()) };
}

/**
 * The metric label of an operation: the root field it calls when it calls exactly one field the
 * schema has (aliases and repeats allowed), else "other". Client-chosen operation names never
 * become labels, so a client cannot grow the label set beyond the schema's root fields + 1.
 */
export function operationLabel(operation: OperationDefinitionNode | null | undefined, roots: RootFields): string {
  if (!operation) return OTHER;
  const known = roots[operation.operation];
  const fields = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return OTHER;
    if (selection.name.value === '__typename') continue;
    fields.add(selection.name.value);
  }
  if (fields.size !== 1) return OTHER;
  const [field] = fields;
  return known.has(field) ? field : OTHER;
}

const MAX_OPERATION_NAME = 100;

export function graphqlObservabilityPlugin(metrics: AppMetrics): ApolloServerPlugin<GraphQLContext> {
  let roots: RootFields = { query: new Set(), mutation: new Set(), subscription: new Set() };
  return {
    async serverWillStart({ schema }) {
      roots = rootFieldsOf(schema);
    },
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      let label = OTHER;
      let type: OperationType = 'unknown';
      let name: string | null = null;
      return {
        async didResolveOperation({ operation, operationName }) {
          name = operationName ?? null;
          type = operation?.operation ?? 'unknown';
          label = operationLabel(operation, roots);
        },
        async willSendResponse({ response, request }) {
          // The formatted errors: their codes are the closed set the client saw (errors.ts).
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors ?? [] : [];
          const codes = errors.map((e) => errorCodeLabel(e.extensions?.code));
          metrics.graphqlOperation(label, type, codes, (performance.now() - started) / 1000);
          const record = requestRecordOf(contextValue);
          if (record) {
            record.graphql = {
              operation: label,
              operationName: (name ?? request.operationName ?? null)?.slice(0, MAX_OPERATION_NAME) ?? null,
              type,
              errorCodes: codes,
              auth: contextValue.auth,
              readCache: contextValue.readCache,
            };
          }
        },
      };
    },
  };
}
