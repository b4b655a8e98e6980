// Status codes as the GraphQL-over-HTTP spec asks: a well-formed request whose document does not
// parse, validate, or accept its variables is answered 200 when the client accepts only
// application/json (legacy clients read the body, not the status; proxies must not retry it),
// and 4xx when it accepts application/graphql-response+json (Apollo's answer, kept).
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { answerContentType } from './read-cache.js';

/** The reason formatError gives requests that are not well-formed GraphQL-over-HTTP (no query, a bad APQ hash). */
export const MALFORMED_REQUEST = 'BAD_REQUEST';

/** A request error (parse, validation, variables): no data, and none of the errors says the request itself is malformed. */
export function isRequestErrorResponse(result: { data?: unknown; errors?: readonly GraphQLFormattedError[] }): boolean {
  if (result.data !== undefined || !result.errors?.length) return false;
  return result.errors.every((e) => e.extensions?.reason !== MALFORMED_REQUEST);
}

export function graphqlOverHttpStatusPlugin<T extends object>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
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
