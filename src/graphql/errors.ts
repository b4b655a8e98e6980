import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { AppError, ErrorCode, INTERNAL_ERROR_CODE, isErrorCode, isProtocolCode, logLevelOf, toClientError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';

// GraphQL's own refusals of a malformed request are bad input in our vocabulary.
const AS_BAD_INPUT = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);

// graphql-js ends a message with its suggestions (" Did you mean "vms"?", " Did you mean the enum value "TCP"?").
const SUGGESTION = / ?Did you mean .+\?$/s;

export interface FormatErrorOptions {
  /**
   * Drop graphql-js's "Did you mean …?" hints: with introspection off they would reveal the
   * schema's field, argument, type and enum value names to whoever guesses near them.
   */
  hideSchemaHints: boolean;
}

/** Apollo adds `stacktrace` unless NODE_ENV=production; nothing of it ever leaves. */
function withoutStacktrace(extensions: Record<string, unknown> | undefined): Record<string, unknown> {
  const { stacktrace: _stacktrace, exception: _exception, ...rest } = extensions ?? {};
  return rest;
}

/**
 * Apollo's refusals of a request it cannot run, without a code of their own ("provided sha does
 * not match query", "Unsupported persisted query version"): marked with a 4xx HTTP status.
 */
function refusedRequest(error: unknown): boolean {
  const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions?.http?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Every error leaves with a code from the closed set (or one of the APQ protocol codes),
 * logged at that code's level (domain/errors.ts); anything else is masked and logged as an
 * internal error. Only message, locations, path and our own extensions leave: never a stack
 * trace, whatever NODE_ENV says.
 */
export function formatError(logger: Logger, options: FormatErrorOptions) {
  const message = (text: string) => (options.hideSchemaHints ? text.replace(SUGGESTION, '') : text);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const { locations, path } = formatted;
    const original = toClientError(unwrapResolverError(error));
    if (original instanceof AppError) {
      logger[original.logLevel]({ code: original.code, path, error: original.message }, 'GraphQL error');
      return { message: original.message, locations, path, extensions: { ...original.extensions, code: original.code } };
    }
    const code = formatted.extensions?.code;
    if (isErrorCode(code)) {
      // A closed code made outside errors.ts (Apollo's variable coercion, a limit, graphql-ws).
      logger[logLevelOf(code)]({ code, path, error: formatted.message }, 'GraphQL error');
      return { message: message(formatted.message), locations, path, extensions: withoutStacktrace(formatted.extensions) };
    }
    if (isProtocolCode(code)) {
      // Automatic persisted queries: the client's link reads this code and resends the full query.
      logger[logLevelOf(code)]({ code, path }, 'GraphQL protocol reply');
      return { message: formatted.message, extensions: { code } };
    }
    if (AS_BAD_INPUT.has(String(code)) || refusedRequest(error)) {
      const reason = typeof formatted.extensions?.reason === 'string' ? formatted.extensions.reason : AS_BAD_INPUT.has(String(code)) ? code : 'BAD_REQUEST';
      logger[logLevelOf(ErrorCode.BAD_USER_INPUT)]({ code: ErrorCode.BAD_USER_INPUT, reason, path, error: formatted.message }, 'GraphQL error');
      return { message: message(formatted.message), locations, path, extensions: { code: ErrorCode.BAD_USER_INPUT, reason } };
    }
    logger[logLevelOf(INTERNAL_ERROR_CODE)]({ err: original, path }, 'internal error (masked from the client)');
    return { message: 'Internal server error', locations, path, extensions: { code: INTERNAL_ERROR_CODE } };
  };
}
