// The HTTP edge: security headers (helmet), the CORS allow-list (cors), who is calling (key and address), rate
// limits, and JSON errors for what fails before GraphQL (too large, not JSON) without stack traces.
import type { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { parse } from 'graphql';
import type { Config } from '../config.js';
import { ErrorCode, INTERNAL_ERROR_CODE, logLevelOf } from '../domain/errors.js';
import { selectOperation } from '../graphql/audit.js';
import { keyFromHeaders, resolveKey, type KeyCache } from '../graphql/auth.js';
import { persistedQueryHash, type PersistedQueryStore } from '../graphql/persisted-queries.js';
import type { AuthInfo } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';
import { rateLimitedError, type OperationKind, type RateLimiter } from './rate-limit.js';

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

/**
 * A read or a write: mutations write; queries, subscriptions and anything unparsable read. A
 * persisted query sent as a bare hash is the document this process registered under it.
 */
export function operationKind(body: unknown, persisted?: PersistedQueryStore): OperationKind {
  const requests = Array.isArray(body) ? body : [body];
  for (const r of requests) {
    const hash = persistedQueryHash((r as { extensions?: unknown })?.extensions);
    const query = (r as { query?: unknown })?.query ?? (hash !== undefined ? persisted?.documentFor(hash) : undefined);
    if (typeof query !== 'string' || !/mutation/i.test(query)) continue;
    try {
      const op = selectOperation(parse(query, { noLocation: true }), (r as { operationName?: string }).operationName);
      if (op?.operation === 'mutation') return 'write';
    } catch {
      // GraphQL reports the syntax error itself.
    }
  }
  return 'read';
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
 * Before GraphQL: resolve the key once (the context reuses it) and take a rate-limit token for the
 * key and the address. Over the limit: HTTP 429 with Retry-After and a GraphQL error body.
 */
export function graphqlGuard(deps: { orm: MikroORM; limiter: RateLimiter; logger: Logger; keys?: KeyCache; persistedQueries?: PersistedQueryStore }): RequestHandler {
  return async (req, res, next) => {
    try {
      const auth = await resolveKey(() => deps.orm.em.fork(), keyFromHeaders(req.headers.authorization, req.headers['x-api-key']), deps.keys);
      (res.locals as Record<symbol, AuthInfo | null>)[AUTH] = auth;
      if (req.method === 'OPTIONS') return next();
      const kind = operationKind(req.method === 'GET' ? req.query : req.body, deps.persistedQueries);
      const address = clientAddress(req);
      const refusal = deps.limiter.take(kind, { keyId: auth?.keyId ?? null, address });
      if (!refusal) return next();
      const error = rateLimitedError(refusal);
      deps.logger.warn({ keyId: auth?.keyId ?? null, keyName: auth?.name ?? null, clientAddress: address, kind, scope: refusal.scope }, 'rate limited');
      res.setHeader('Retry-After', String(refusal.retryAfterSeconds));
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
