// The HTTP side of observability: request ids, one log line and one metric sample per request,
// the /metrics endpoint and subscription sockets. Hooked in once in server.ts; resolvers never see it.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuthInfo } from '../graphql/context.js';
import { logLevelOf } from '../domain/errors.js';
import { mostSevere, withLogContext, type LogContext, type Logger } from './logger.js';
import { ATTR } from './spans.js';
import { OTHER, operationOutcome, type AppMetrics, type OperationType } from './metrics.js';

/** What the GraphQL layer adds to its request's log line (filled by graphql-plugin.ts). */
export interface OperationRecord {
  /** the bounded label: the root field called, or "other" */
  operation: string;
  /** the client's own operation name, shortened */
  operationName: string | null;
  type: OperationType;
  errorCodes: string[];
  auth: AuthInfo | null;
  /** hit, miss or bypass (docs/read-cache.md) */
  readCache?: string;
  /** answered by a read plan, without graphql-js (read-plans.ts) */
  planned?: boolean;
}

export interface RequestRecord {
  requestId: string;
  /** what every line this request causes carries (logger.ts); the key id is added once known */
  log: LogContext;
  /** whether the request carried Authorization or X-API-Key (never their values) */
  credentialPresented: boolean;
  graphql?: OperationRecord;
}

const RECORD = Symbol('vyos-vm-api request record');
type Carrier = { [RECORD]?: RequestRecord };

/**
 * Links a GraphQL context to its HTTP request's record, so the plugin can add to the log line.
 * A symbol property, not a WeakMap: Apollo shallow-copies the context per operation (and
 * Object.assign carries enumerable symbol properties along).
 */
export function bindRequestContext<T extends object>(res: Response, context: T): T {
  const record = (res as Response & Carrier)[RECORD];
  if (record) (context as T & Carrier)[RECORD] = record;
  return context;
}

export function requestRecordOf(context: object): RequestRecord | undefined {
  return (context as Carrier)[RECORD];
}

/** Names the request's API key on every line it causes from now on (null: none, or not valid). */
export function noteRequestKey(res: Response, keyId: string | null): void {
  const record = (res as Response & Carrier)[RECORD];
  if (record) record.log.keyId = keyId;
}

/** A client's X-Request-Id is kept when it is one short token of visible ASCII; otherwise we make one. */
export function acceptRequestId(header: unknown): string | null {
  return typeof header === 'string' && /^[\x21-\x7e]{1,100}$/.test(header) ? header : null;
}

// Probes are polled every few seconds: their successes log at debug so they do not drown the log.
const PROBES = new Set(['/health', '/ready', '/live', '/metrics']);

// The server's own paths: every `route` label value there is, besides "other".
const SERVER_PATHS = new Set(['/graphql', '/health', '/ready', '/live', '/metrics']);

/**
 * The route label, from a closed set: the server path the request was for, "other" for anything
 * else. Taken from the request path (case and trailing slashes folded as express matches them)
 * and the mount path, never from `req.route`: a route matched earlier on the way (the IDE's
 * `GET /graphql`, which passes non-browser requests on) stays set when the request goes on to
 * the next handler, and `baseUrl` + `route.path` then read `/graphql/graphql`.
 */
export function routeLabel(req: Request): string {
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0].replace(/\/+$/, '').toLowerCase();
  if (SERVER_PATHS.has(path)) return path;
  const mount = (req.baseUrl ?? '').toLowerCase();
  return SERVER_PATHS.has(mount) ? mount : OTHER;
}

/**
 * Express middleware: a request id (X-Request-Id in and out), HTTP metrics, and one JSON log
 * line per request with its duration and outcome (plus operation and API key id for GraphQL).
 */
export function observeRequests(metrics: AppMetrics, logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    const requestId = acceptRequestId(req.headers['x-request-id']) ?? randomUUID();
    // Everything downstream (the GraphQL context) reads the same id from the header; the
    // request's span carries it too, so a trace is found from a log line's id and back.
    req.headers['x-request-id'] = requestId;
    trace.getActiveSpan()?.setAttribute(ATTR.requestId, requestId);
    res.setHeader('X-Request-Id', requestId);
    const record: RequestRecord = {
      requestId,
      log: { requestId, keyId: null, arrivedAt: started },
      credentialPresented: Boolean(req.headers.authorization || req.headers['x-api-key']),
    };
    (res as Response & Carrier)[RECORD] = record;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const route = routeLabel(req);
      const durationMs = performance.now() - started;
      const aborted = !res.writableFinished;
      metrics.httpRequest(route, res.statusCode, durationMs / 1000);
      const gql = record.graphql;
      const outcome = aborted ? 'aborted' : res.statusCode >= 500 ? 'server_error' : gql ? operationOutcome(gql.errorCodes) : res.statusCode >= 400 ? 'client_error' : 'success';
      const line: Record<string, unknown> = {
        requestId,
        method: req.method,
        route,
        status: res.statusCode,
        durationMs: Math.round(durationMs * 100) / 100,
        outcome,
      };
      if (gql || route === '/graphql') {
        line.operation = gql?.operation ?? OTHER;
        line.operationName = gql?.operationName ?? null;
        line.operationType = gql?.type ?? 'unknown';
        line.errorCodes = gql?.errorCodes ?? [];
        line.keyId = gql?.auth?.keyId ?? null;
        line.keyName = gql?.auth?.name ?? null;
        line.credential = gql?.auth ? 'valid' : record.credentialPresented ? (gql ? 'invalid' : 'unchecked') : 'none';
        if (gql?.readCache) line.readCache = gql.readCache;
        if (gql?.planned) line.planned = true;
      }
      // As loud as its worst error code (domain/errors.ts), never quieter than the request itself.
      const floor = res.statusCode >= 500 ? 'warn' : PROBES.has(route) ? 'debug' : 'info';
      const level = mostSevere(floor, ...(gql?.errorCodes ?? []).map(logLevelOf));
      logger[level](line, 'request');
    };
    res.on('finish', finish);
    res.on('close', finish);
    withLogContext(record.log, next);
  };
}

/**
 * Re-enters the request's log context: stream-driven middleware (the JSON body parser) may call
 * `next` from the socket's callbacks, outside the context observeRequests opened.
 */
export function resumeRequestContext(): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    const record = (res as Response & Carrier)[RECORD];
    if (record) withLogContext(record.log, next);
    else next();
  };
}

function sameSecret(presented: string, expected: string): boolean {
  // Hashing first gives equal lengths, so the comparison takes the same time for any input.
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** GET /metrics: the Prometheus text format; with METRICS_TOKEN, only for `Authorization: Bearer <token>`. */
export function metricsEndpoint(metrics: AppMetrics, token: string | null): RequestHandler {
  return async (req: Request, res: Response) => {
    if (token) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m || !sameSecret(m[1], token)) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
        return;
      }
    }
    const text = await metrics.scrape();
    res.status(200).set('Content-Type', metrics.contentType).send(text);
  };
}

/** graphql-ws connection accounting: the gauge and a log line for each socket that opens, closes or is refused. */
export function observeSockets(metrics: AppMetrics, logger: Logger) {
  return {
    opened(auth: AuthInfo): void {
      metrics.subscriptionOpened();
      logger.info({ keyId: auth.keyId, keyName: auth.name }, 'subscription socket opened');
    },
    closed(auth: AuthInfo | null | undefined, code: number | undefined): void {
      metrics.subscriptionClosed();
      logger.info({ keyId: auth?.keyId ?? null, keyName: auth?.name ?? null, code: code ?? null }, 'subscription socket closed');
    },
    /** `reason`: MISSING, UNKNOWN, EXPIRED or REVOKED (graphql/auth.ts KeyRefusal) */
    refused(reason: string): void {
      logger.info({ credential: reason === 'MISSING' ? 'none' : 'invalid', reason }, 'subscription socket refused: no valid API key');
    },
  };
}
