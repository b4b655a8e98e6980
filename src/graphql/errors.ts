import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { AppError, ErrorCode } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';

const CLOSED = new Set<string>(Object.values(ErrorCode));
// GraphQL's own refusals of a malformed request are bad input in our vocabulary.
const AS_BAD_INPUT = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE']);

/** Every error leaves with a code from the closed set; anything else is masked and logged. */
export function formatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) {
      return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { ...original.extensions, code: original.code } };
    }
    const code = String(formatted.extensions?.code ?? '');
    if (CLOSED.has(code)) return formatted;
    if (AS_BAD_INPUT.has(code)) {
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: formatted.extensions?.reason ?? code } };
    }
    logger.error({ err: original, path: formatted.path }, 'internal error (masked from the client)');
    return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
