// The WebSocket edge (graphql-ws): the same rules as HTTP. A key up front, re-checked at every
// subscribe (a revoked or expired key's socket is closed), connections per key and subscriptions
// per connection capped, the rate limits, the query limits, the audit line for mutations, and
// errors formatted (and internal ones masked) exactly as on HTTP.
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type ExecutionResult,
  type GraphQLFormattedError,
  type ValidationRule,
} from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import type { Extra as WsSocketExtra } from 'graphql-ws/use/ws';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { AppError, ErrorCode, unauthenticated } from '../domain/errors.js';
import { auditMutation, rootFields, selectOperation } from '../graphql/audit.js';
import { keyFromHeaders, resolveKey, type KeyCache } from '../graphql/auth.js';
import type { AuthInfo } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';
import { queryLimitRule } from './query-limits.js';
import { asGraphQLError, rateLimitedError, type RateLimiter } from './rate-limit.js';

/** Close codes, beside graphql-ws's own 4400-4499 ones. */
export const WsClose = {
  /** no, unknown, revoked or expired key (graphql-ws's Forbidden) */
  FORBIDDEN: 4403,
  /** WS_MAX_CONNECTIONS_PER_KEY reached */
  TOO_MANY_CONNECTIONS: 4429,
} as const;

export type ConnectionParams = { authorization?: string; 'x-api-key'?: string };

/** What this server keeps on a connection (graphql-ws/use/ws adds `socket` and `request`). */
export type WsExtra = {
  auth?: AuthInfo;
  /** the key id this connection is counted under (WS_MAX_CONNECTIONS_PER_KEY) */
  counted?: string;
  /** ids of this connection's running subscriptions */
  subscriptions?: Set<string>;
};
type Extra = WsSocketExtra & Partial<WsExtra>;

export interface WsGuardDeps {
  orm: MikroORM;
  config: Config;
  logger: Logger;
  limiter: RateLimiter;
  /** cached key rows (auth.ts), when the read cache is on */
  keys?: KeyCache;
  /** the same formatter Apollo uses on HTTP */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

/** The validation rules for both transports (HTTP adds introspection itself via Apollo's option). */
export function limitRules(config: Config): ValidationRule[] {
  return [queryLimitRule({ maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity })];
}

type GuardOptions = Pick<
  ServerOptions<ConnectionParams, Extra>,
  'onClose' | 'onSubscribe' | 'onOperation' | 'onNext' | 'onError' | 'onComplete' | 'validate'
>;

export interface WsGuard {
  /** Call from onConnect once the key is known: false = refused (the socket is being closed). */
  admit(ctx: { extra: Extra }, auth: AuthInfo): boolean;
  /** graphql-ws server options to spread into useServer(). */
  options: GuardOptions;
}

export function wsGuard(deps: WsGuardDeps): WsGuard {
  const { orm, config, logger, limiter } = deps;
  const perKey = new Map<string, number>();
  const rules = [
    ...specifiedRules,
    ...limitRules(config),
    ...(config.graphqlIntrospection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const authOf = (params: ConnectionParams | undefined) =>
    resolveKey(() => orm.em.fork(), keyFromHeaders(params?.authorization, params?.['x-api-key']), deps.keys);
  const format = (errors: readonly GraphQLError[], requestErrorCode?: string): GraphQLFormattedError[] =>
    errors.map((e) => {
      const formatted = e.toJSON();
      // graphql-js gives parse, validation and variable errors no code (Apollo names them on
      // HTTP). Errors from execution keep none: without a code of ours they are internal, and masked.
      const named = requestErrorCode && !formatted.extensions?.code ? { ...formatted, extensions: { ...formatted.extensions, code: requestErrorCode } } : formatted;
      return deps.formatError(named, e);
    });
  const refuse = (e: AppError) => [asGraphQLError(e)];

  const admit = (ctx: { extra: Extra }, auth: AuthInfo): boolean => {
    const open = perKey.get(auth.keyId) ?? 0;
    if (open >= config.wsMaxConnectionsPerKey) {
      logger.warn({ keyId: auth.keyId, keyName: auth.name, open }, 'WebSocket refused: too many connections for this key');
      ctx.extra.socket.close(WsClose.TOO_MANY_CONNECTIONS, `too many WebSocket connections for this API key (WS_MAX_CONNECTIONS_PER_KEY=${config.wsMaxConnectionsPerKey})`);
      return false;
    }
    perKey.set(auth.keyId, open + 1);
    ctx.extra.counted = auth.keyId;
    ctx.extra.subscriptions = new Set();
    return true;
  };

  const options: GuardOptions = {
    validate: (schema, document) => validate(schema, document, rules),

    onClose: (ctx) => {
      const keyId = ctx.extra.counted;
      if (!keyId) return;
      ctx.extra.counted = undefined;
      const left = (perKey.get(keyId) ?? 1) - 1;
      if (left <= 0) perKey.delete(keyId);
      else perKey.set(keyId, left);
    },

    onSubscribe: async (ctx, id, payload) => {
      // Keys are re-checked on every operation: revoking a key ends its sockets' usefulness.
      const auth = await authOf(ctx.connectionParams);
      if (!auth) {
        ctx.extra.socket.close(WsClose.FORBIDDEN, 'Forbidden: the API key was revoked or has expired');
        return refuse(unauthenticated('the API key was revoked or has expired'));
      }
      ctx.extra.auth = auth;
      let kind: 'query' | 'mutation' | 'subscription' = 'query';
      try {
        kind = selectOperation(parse(payload.query, { noLocation: true }), payload.operationName)?.operation ?? 'query';
      } catch (e) {
        // Left to graphql-ws, a syntax error is an "internal error" that closes the socket (4500).
        const syntax = e instanceof GraphQLError ? e : new GraphQLError(String(e));
        return [new GraphQLError(syntax.message, { source: syntax.source, positions: syntax.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
      }
      const subs = ctx.extra.subscriptions ?? (ctx.extra.subscriptions = new Set());
      if (kind === 'subscription' && subs.size >= config.wsMaxSubscriptionsPerConnection) {
        return refuse(
          new AppError(ErrorCode.FORBIDDEN, `at most ${config.wsMaxSubscriptionsPerConnection} subscriptions per connection (WS_MAX_SUBSCRIPTIONS_PER_CONNECTION)`, {
            reason: 'TOO_MANY_SUBSCRIPTIONS',
          }),
        );
      }
      const address = socketClientAddress(ctx.extra.request, config.trustProxyHops);
      const refusal = limiter.take(kind === 'mutation' ? 'write' : 'read', { keyId: auth.keyId, address });
      if (refusal) {
        logger.warn({ keyId: auth.keyId, keyName: auth.name, clientAddress: address, kind, transport: 'ws' }, 'rate limited');
        return refuse(rateLimitedError(refusal));
      }
      if (kind === 'subscription') subs.add(id);
    },

    onOperation: (ctx, id, payload, args, result) => {
      const op = selectOperation(args.document, args.operationName);
      const streaming = Symbol.asyncIterator in Object(result);
      // A subscription that failed to start is not running: it must not use up the allowance.
      if (!streaming) ctx.extra.subscriptions?.delete(id);
      if (op?.operation !== 'mutation' || streaming) return;
      auditMutation(logger, {
        operation: rootFields(op),
        operationName: payload.operationName ?? null,
        auth: ctx.extra.auth ?? null,
        errors: format((result as ExecutionResult).errors ?? [], (result as ExecutionResult).data === undefined ? 'BAD_USER_INPUT' : undefined),
        requestId: null,
        transport: 'ws',
        clientAddress: socketClientAddress(ctx.extra.request, config.trustProxyHops),
      });
    },

    onComplete: (ctx, id) => {
      ctx.extra.subscriptions?.delete(id);
    },

    // A result without data never ran: its errors are the variables' (coercion), the caller's input.
    onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors, result.data === undefined ? 'BAD_USER_INPUT' : undefined) } : undefined),

    onError: (_ctx, _id, _payload, errors) => format(errors, 'GRAPHQL_VALIDATION_FAILED'),

  };
  return { admit, options };
}

/** The client address of an upgrade request, trusting `hops` proxies as Express does on HTTP. */
export function socketClientAddress(request: IncomingMessage, hops: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (hops <= 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  const chain = [...forwarded, peer];
  return chain[Math.max(0, chain.length - 1 - hops)];
}
