import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { context, isSpanContextValid, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../domain/errors.js';

/**
 * What a line knows about the work that caused it: one request (`requestId`, `keyId`), or one
 * batch of the coordinator (`batchId` and the `requestIds`/`keyIds` of the requests it carries).
 */
export interface LogContext {
  requestId?: string;
  /** when the request arrived (performance.now()): the batch window counts from it; not a log field */
  arrivedAt?: number;
  keyId?: string | null;
  batchId?: string;
  requestIds?: string[];
  keyIds?: string[];
}

// Every line a request or a batch causes carries its context (the pino mixin below reads it), so
// code deep in the coordinator or the router client logs without passing ids around.
const current = new AsyncLocalStorage<LogContext>();

/** Runs `fn` (and everything it starts) under `context`. */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  return current.run(context, fn);
}

/** Runs `fn` outside any context (work that belongs to no request, e.g. a timer it schedules), its trace's included. */
export function withoutLogContext<T>(fn: () => T): T {
  return current.exit(() => context.with(ROOT_CONTEXT, fn));
}

/** The context of the running code, if any (the batch queue captures it at submit time). */
export function logContext(): LogContext | undefined {
  return current.getStore();
}

/** The context of a batch: the ids of every request it carries (requests without one are left out). */
export function batchLogContext(members: readonly (LogContext | undefined)[]): LogContext {
  const ids = (pick: (c: LogContext) => string | null | undefined) => [...new Set(members.map((c) => (c ? pick(c) : null)).filter((v): v is string => typeof v === 'string'))];
  return { batchId: randomUUID(), requestIds: ids((c) => c.requestId), keyIds: ids((c) => c.keyId) };
}

// A line's own fields win over the context's (the request line states its requestId itself).
// A line written inside a span names it (trace_id, span_id: docs/monitoring.md "Traces"); with
// tracing off there is never an active span.
function contextFields(): Record<string, unknown> {
  const c = current.getStore();
  const span = trace.getSpanContext(context.active());
  if (!c && !span) return {};
  const out: Record<string, unknown> = {};
  if (c) for (const [k, v] of Object.entries(c)) if (v !== undefined && k !== 'arrivedAt') out[k] = v;
  if (span && isSpanContextValid(span)) {
    out.trace_id = span.traceId;
    out.span_id = span.spanId;
  }
  return out;
}

// Secrets never reach a log line, whatever object they travel in.
const REDACT = [
  'key', '*.key', 'apiKey', '*.apiKey', 'secret', '*.secret', 'password', '*.password',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'headers["x-api-key"]', 'req.headers["x-api-key"]', 'connectionParams.authorization',
  'databaseUrl', 'vyosApiKey', 'adminApiKey', '*.vyosApiKey', '*.adminApiKey',
  'token', '*.token', 'metricsToken', '*.metricsToken', '*.databaseUrl',
  '*.headers.authorization', '*.headers["x-api-key"]', 'connectionParams["x-api-key"]', '*.connectionParams.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vyos-vm-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin: contextFields,
    },
    destination,
  );
}

/** Masks credentials in a URL (postgres://user:pass@host -> postgres://user:***@host). */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

const SEVERITY: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The loudest of some levels (a line about several errors is logged as its worst one). */
export function mostSevere(first: LogLevel, ...rest: LogLevel[]): LogLevel {
  return rest.reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), first);
}

export type { Logger };
