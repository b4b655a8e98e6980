// The WebSocket edge (graphql-ws): the same rules as HTTP. A key up front, re-checked at every
// subscribe (a revoked or expired key's socket is closed), connections per key and subscriptions
// per connection capped, the rate limits, the query limits, the audit line for mutations, and
// errors formatted (and internal ones masked) exactly as on HTTP.
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type DocumentNode,
  type GraphQLSchema,
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
import { AppError, ErrorCode, shuttingDown, unauthenticated } from '../domain/errors.js';
import { auditMutation, auditUnexecuted, rootFields, selectOperation } from '../graphql/audit.js';
import { checkKey, keyFromHeaders, type KeyCache, type KeyCheck, type KeyRefusal } from '../graphql/auth.js';
import type { AuthInfo, GraphQLContext } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';
import { costUnits, limitErrors, measureOperation, queryLimits } from './query-limits.js';
import { asGraphQLError, rateLimitedError, type RateLimiter } from './rate-limit.js';

/** Close codes, beside graphql-ws's own 4400-4499 ones. */
export const WsClose = {
  /** no, unknown, revoked or expired key (graphql-ws's Forbidden); the reason says which */
  FORBIDDEN: 4403,
  /** WS_MAX_CONNECTIONS_PER_KEY reached */
  TOO_MANY_CONNECTIONS: 4429,
} as const;

export type ConnectionParams = { authorization?: string; 'x-api-key'?: string };

/**
 * The close reason of a socket refused for its key (at most 123 bytes, the WebSocket limit).
 * graphql-ws clients treat 4403 as final and do not reconnect, so the reason is all a client
 * (or the person reading its log) learns.
 */
export const KEY_REFUSAL_REASONS: Readonly<Record<KeyRefusal, string>> = {
  MISSING: 'Forbidden: no API key; send connectionParams.authorization = "Bearer <key>"',
  UNKNOWN: 'Forbidden: unknown API key',
  EXPIRED: 'Forbidden: the API key has expired',
  REVOKED: 'Forbidden: the API key was revoked',
};

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
  /** to price operations before they run */
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  limiter: RateLimiter;
  /** cached key rows (auth.ts), when the read cache is on */
  keys?: KeyCache;
  /** the same formatter Apollo uses on HTTP */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** true once shutdown has begun: new operations are refused (src/shutdown.ts) */
  draining?: () => boolean;
}


type GuardOptions = Pick<
  ServerOptions<ConnectionParams, Extra>,
  'onClose' | 'onSubscribe' | 'onOperation' | 'onNext' | 'onError' | 'onComplete' | 'validate'
>;

export interface WsGuard {
  /** Call from onConnect: the key's AuthInfo, or why it was refused (the socket is being closed with 4403 and the reason). */
  authenticate(ctx: { connectionParams?: Readonly<Record<string, unknown>>; extra: Extra }): Promise<KeyCheck>;
  /** Call from onConnect once the key is known: false = refused (the socket is being closed). */
  admit(ctx: { extra: Extra }, auth: AuthInfo): boolean;
  /** graphql-ws server options to spread into useServer(). */
  options: GuardOptions;
}

export function wsGuard(deps: WsGuardDeps): WsGuard {
  const { orm, config, logger, limiter } = deps;
  const perKey = new Map<string, number>();
  const limits = queryLimits(config);
  const rules: ValidationRule[] = [...specifiedRules, ...(config.graphqlIntrospection ? [] : [NoSchemaIntrospectionCustomRule])];
  const checkOf = (params: Readonly<Record<string, unknown>> | undefined) =>
    checkKey(() => orm.em.fork(), keyFromHeaders(params?.authorization, params?.['x-api-key']), deps.keys);
  const refuseKey = (ctx: { extra: Extra }, refusal: KeyRefusal) => ctx.extra.socket.close(WsClose.FORBIDDEN, KEY_REFUSAL_REASONS[refusal]);

  const authenticate = async (ctx: { connectionParams?: Readonly<Record<string, unknown>>; extra: Extra }): Promise<KeyCheck> => {
    const check = await checkOf(ctx.connectionParams);
    if (check.refusal) refuseKey(ctx, check.refusal);
    return check;
  };
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
      if (deps.draining?.()) return refuse(shuttingDown());
      // Keys are re-checked on every operation: revoking a key ends its sockets' usefulness.
      const check = await checkOf(ctx.connectionParams);
      if (!check.auth) {
        refuseKey(ctx, check.refusal);
        return refuse(unauthenticated(KEY_REFUSAL_REASONS[check.refusal].replace(/^Forbidden: /, '')));
      }
      const auth = check.auth;
      ctx.extra.auth = auth;
      let document: DocumentNode;
      try {
        document = parse(payload.query, { noLocation: true });
      } catch (e) {
        // Left to graphql-ws, a syntax error is an "internal error" that closes the socket (4500).
        const syntax = e instanceof GraphQLError ? e : new GraphQLError(String(e));
        return [new GraphQLError(syntax.message, { source: syntax.source, positions: syntax.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
      }
      const op = selectOperation(document, payload.operationName);
      const kind = op?.operation ?? 'query';
      // The same document limits as HTTP, with this operation's variables; a refusal costs one unit.
      const cost = op ? measureOperation(deps.schema, document, op, payload.variables ?? {}) : null;
      const overLimit = cost ? limitErrors(cost, limits) : [];
      const subs = ctx.extra.subscriptions ?? (ctx.extra.subscriptions = new Set());
      if (kind === 'subscription' && subs.size >= config.wsMaxSubscriptionsPerConnection) {
        return refuse(
          new AppError(ErrorCode.FORBIDDEN, `at most ${config.wsMaxSubscriptionsPerConnection} subscriptions per connection (WS_MAX_SUBSCRIPTIONS_PER_CONNECTION)`, {
            reason: 'TOO_MANY_SUBSCRIPTIONS',
          }),
        );
      }
      const address = socketClientAddress(ctx.extra.request, config.trustProxyHops);
      const units = cost && !overLimit.length ? costUnits(cost) : 1;
      const decision = await limiter.take(kind === 'mutation' ? 'write' : 'read', { auth, address }, units);
      if (decision && !decision.allowed) {
        logger.warn({ keyId: auth.keyId, keyName: auth.name, clientAddress: address, kind, cost: units, policy: decision.policy.name, transport: 'ws' }, 'rate limited');
        return refuse(rateLimitedError(decision));
      }
      if (overLimit.length) return overLimit;
      if (kind === 'subscription') subs.add(id);
    },

    onOperation: (ctx, id, payload, args, result) => {
      const op = selectOperation(args.document, args.operationName);
      const streaming = Symbol.asyncIterator in Object(result);
      // A subscription that failed to start is not running: it must not use up the allowance.
      if (!streaming) ctx.extra.subscriptions?.delete(id);
      if (op?.operation !== 'mutation' || streaming) return;
      const errors = format((result as ExecutionResult).errors ?? [], (result as ExecutionResult).data === undefined ? 'BAD_USER_INPUT' : undefined);
      const context = args.contextValue as GraphQLContext | undefined;
      // audit rows for the fields that never ran; written after the result is on its way
      if (context?.app) void auditUnexecuted(context, op, payload.variables ?? {}, errors);
      auditMutation(logger, {
        operation: rootFields(op),
        operationName: payload.operationName ?? null,
        auth: ctx.extra.auth ?? null,
        errors,
        requestId: (args.contextValue as { requestId?: string } | undefined)?.requestId ?? null,
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
  return { authenticate, admit, options };
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
