// The HTTP edge: security headers (helmet), the CORS allow-list (cors), who is calling (key and address), rate
// limits, and JSON errors for what fails before GraphQL (too large, not JSON) without stack traces.
import type { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { ErrorCode, INTERNAL_ERROR_CODE, logLevelOf } from '../domain/errors.js';
import { selectOperation } from '../graphql/audit.js';
import { keyFromHeaders, resolveKey, type KeyCache } from '../graphql/auth.js';
import { persistedQueryHash, type PersistedQueryStore } from '../graphql/persisted-queries.js';
import type { AuthInfo } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';
import { noteRequestKey } from '../observability/http.js';
import { costUnits, limitErrors, measureOperation, type QueryLimits } from './query-limits.js';
import { rateLimitHeaders, rateLimitedError, type OperationKind, type RateLimiter } from './rate-limit.js';

/**
 * The API's own Content-Security-Policy: JSON needs none of it, so nothing may load and nothing
 * may frame it. Pages send their own (the IDE: src/graphql/ide.ts).
 */
export const API_CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
  'script-src-attr': ["'none'"],
} as const;

/**
 * helmet's defaults with our choices: no framing at all (DENY, not SAMEORIGIN), no referrer, our
 * CSP, and HSTS for this host only: the API does not own its parent domain's other hosts.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: API_CONTENT_SECURITY_POLICY },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
  }) as RequestHandler;
}

/**
 * Request headers a browser client may send: ours, the GraphQL clients' (Apollo's CSRF and
 * client-awareness headers), Cache-Control (a fresh answer, docs/read-cache.md) and tracing.
 */
export const CORS_ALLOWED_HEADERS = [
  'accept',
  'authorization',
  'cache-control',
  'content-type',
  'x-api-key',
  'x-request-id',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'apollographql-client-name',
  'apollographql-client-version',
  'traceparent',
  'tracestate',
  'baggage',
] as const;

/** Response headers browser code may read: the request id, rate-limit advice. */
export const CORS_EXPOSED_HEADERS = ['X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

/**
 * CORS for the listed origins only (exact matches, no credentials: keys travel in headers);
 * any other origin gets no Access-Control-Allow-Origin, so the browser keeps the reply from it.
 */
export function corsAllowList(origins: readonly string[]): RequestHandler {
  return cors({
    origin: [...origins],
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
}

/** Headers, CORS and the client address: mount before every route. */
export function applyHttpHardening(web: Express, config: Config): void {
  web.disable('x-powered-by');
  // Behind N trusted proxies the client is N hops back in X-Forwarded-For; 0 = the socket peer.
  web.set('trust proxy', config.trustProxyHops);
  web.use(securityHeaders());
  if (config.corsOrigins.length > 0) web.use(corsAllowList(config.corsOrigins));
}

/** What a request is charged: a read or a write (mutations write) and its cost in units. */
export interface RequestPrice {
  kind: OperationKind;
  units: number;
  /** over a document limit: Apollo refuses it (BAD_USER_INPUT) and it is charged one unit, the price of refusing */
  refused: boolean;
}

/**
 * Prices a GraphQL request body (POST JSON, or GET's query string) the way Apollo will run it:
 * the selected operation measured with the request's variables. Anything unparsable or ambiguous
 * is one read (GraphQL reports the error itself). A persisted query sent as a bare hash is the
 * document this process registered under it (an unknown hash runs nothing: one read).
 */
export function priceRequest(schema: GraphQLSchema, body: unknown, limits: QueryLimits, persisted?: PersistedQueryStore): RequestPrice {
  const cheap: RequestPrice = { kind: 'read', units: 1, refused: false };
  const r = body as { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
  if (!r || Array.isArray(r)) return cheap;
  const hash = persistedQueryHash(r.extensions);
  const query = r.query ?? (hash !== undefined ? persisted?.documentFor(hash) : undefined);
  if (typeof query !== 'string') return cheap;
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return cheap;
  }
  const op = selectOperation(document, typeof r.operationName === 'string' ? r.operationName : null);
  if (!op) return cheap;
  let variables: unknown = r.variables ?? {};
  if (typeof variables === 'string') {
    try {
      variables = JSON.parse(variables);
    } catch {
      variables = {};
    }
  }
  const cost = measureOperation(schema, document, op, variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {});
  const refused = limitErrors(cost, limits).length > 0;
  return { kind: op.operation === 'mutation' ? 'write' : 'read', units: refused ? 1 : costUnits(cost), refused };
}

const AUTH = Symbol('auth');

/** The key this request presented, as the guard resolved it (undefined: the guard did not run). */
export function requestAuth(res: Response): AuthInfo | null | undefined {
  return (res.locals as Record<symbol, AuthInfo | null | undefined>)[AUTH];
}

export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * Before GraphQL: resolve the key once (the context reuses it), price the request, and charge it
 * to the caller's budget (shared by every replica). Every charged answer carries the RateLimit
 * fields; over the limit: HTTP 429 with Retry-After and a GraphQL error body, and nothing runs.
 */
export function graphqlGuard(deps: { orm: MikroORM; schema: GraphQLSchema; limits: QueryLimits; limiter: RateLimiter; logger: Logger; keys?: KeyCache; persistedQueries?: PersistedQueryStore }): RequestHandler {
  return async (req, res, next) => {
    try {
      const auth = await resolveKey(() => deps.orm.em.fork(), keyFromHeaders(req.headers.authorization, req.headers['x-api-key']), deps.keys);
      (res.locals as Record<symbol, AuthInfo | null>)[AUTH] = auth;
      noteRequestKey(res, auth?.keyId ?? null);
      if (req.method === 'OPTIONS') return next();
      const who = { auth, address: clientAddress(req) };
      if (!deps.limiter.applies(who)) return next();
      const price = priceRequest(deps.schema, req.method === 'GET' ? req.query : req.body, deps.limits, deps.persistedQueries);
      const decision = await deps.limiter.take(price.kind, who, price.units);
      if (!decision) return next();
      for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
      if (decision.allowed) return next();
      const error = rateLimitedError(decision);
      deps.logger.warn(
        { keyId: auth?.keyId ?? null, keyName: auth?.name ?? null, clientAddress: who.address, kind: price.kind, cost: price.units, policy: decision.policy.name },
        'rate limited',
      );
      res.setHeader('Retry-After', String(decision.retryAfterSeconds));
      res.status(429).json({ errors: [{ message: error.message, extensions: { ...error.extensions, code: error.code } }] });
    } catch (e) {
      next(e);
    }
  };
}

/**
 * Errors before or outside GraphQL (body too large, malformed JSON, a failing route) as JSON in
 * the closed vocabulary. Express's default handler would answer HTML with a stack trace.
 */
export function httpErrorHandler(deps: { logger: Logger; maxBodyBytes: number }): ErrorRequestHandler {
  return (err: { status?: number; statusCode?: number; type?: string }, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? err.statusCode ?? 500;
    if (err.type === 'entity.too.large' || status === 413) {
      res.status(413).json({
        errors: [{ message: `request body is larger than ${deps.maxBodyBytes} bytes (MAX_BODY_BYTES)`, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: 'BODY_TOO_LARGE', limitBytes: deps.maxBodyBytes } }],
      });
      return;
    }
    if (status >= 400 && status < 500) {
      const reason = err.type === 'entity.parse.failed' ? 'MALFORMED_JSON' : 'BAD_REQUEST';
      res.status(status).json({ errors: [{ message: reason === 'MALFORMED_JSON' ? 'the request body is not valid JSON' : 'bad request', extensions: { code: ErrorCode.BAD_USER_INPUT, reason } }] });
      return;
    }
    deps.logger[logLevelOf(INTERNAL_ERROR_CODE)]({ err, path: req.path }, 'internal error in an HTTP route (masked from the client)');
    res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: INTERNAL_ERROR_CODE } }] });
  };
}
