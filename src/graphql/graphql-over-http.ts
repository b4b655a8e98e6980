// GraphQL over HTTP as the spec asks. Status codes: a well-formed request whose document does
// not parse, validate, or accept its variables is answered 200 when the client accepts only
// application/json (legacy clients read the body, not the status; proxies must not retry it),
// and 4xx when it accepts application/graphql-response+json (Apollo's answer, kept).
// Subscriptions: over WebSocket only; on HTTP they are refused as bad input, before they run.
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { answerContentType } from './read-cache.js';

/** The reason formatError gives requests that are not well-formed GraphQL-over-HTTP (no query, a bad APQ hash). */
export const MALFORMED_REQUEST = 'BAD_REQUEST';

/** A request error (parse, validation, variables): no data, and none of the errors says the request itself is malformed. */
export function isRequestErrorResponse(result: { data?: unknown; errors?: readonly GraphQLFormattedError[] }): boolean {
  if (result.data !== undefined || !result.errors?.length) return false;
  return result.errors.every((e) => e.extensions?.reason !== MALFORMED_REQUEST);
}

/** The refusal of a subscription sent over HTTP (Apollo would run it as a query, and fail inside). */
export function subscriptionOverHttp(): GraphQLError {
  return new GraphQLError('subscriptions are served over WebSocket (graphql-transport-ws) on /graphql, not over HTTP', {
    extensions: { code: 'BAD_USER_INPUT', reason: 'SUBSCRIPTION_OVER_HTTP', http: { status: 400 } },
  });
}

export function graphqlOverHttpPlugin<T extends object>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') throw subscriptionOverHttp();
        },
        async willSendResponse({ request, response }) {
          if (response.http.status !== 400 || response.body.kind !== 'single') return;
          const type = answerContentType(request.http?.headers.get('accept'));
          if (!type?.startsWith('application/json')) return;
          if (isRequestErrorResponse(response.body.singleResult)) response.http.status = 200;
        },
      };
    },
  };
}
