// The coordinator's own spans (docs/monitoring.md "Traces"): a request's wait for its batch, the
// batch, each stage. Written on the OpenTelemetry API alone: with tracing off (no SDK started,
// tracing.ts) every call here is the API's no-op. The instrumentations write the rest (HTTP,
// GraphQL, pg); the router client writes its calls' spans itself (vyos/client.ts).
import { context, SpanStatusCode, trace, type Attributes, type Link, type Span, type SpanOptions } from '@opentelemetry/api';
import { INTERNAL_ERROR_CODE, isErrorCode } from '../domain/errors.js';

const tracer = trace.getTracer('vyos-vm-api');

/** Attribute names of ours, beside the semantic conventions the instrumentations use. */
export const ATTR = {
  requestId: 'vyos_vm_api.request_id',
  operation: 'vyos_vm_api.operation',
  batchId: 'vyos_vm_api.batch.id',
  changeSets: 'vyos_vm_api.batch.change_sets',
  commands: 'vyos_vm_api.batch.commands',
  outcome: 'vyos_vm_api.batch.outcome',
  step: 'vyos_vm_api.stage.step',
  undo: 'vyos_vm_api.stage.undo',
  errorCode: 'vyos_vm_api.error.code',
} as const;

/**
 * Marks a span failed: status ERROR, and for an error the exception and the closed-vocabulary
 * code it leaves with (INTERNAL_SERVER_ERROR for one that is masked from clients).
 */
export function failSpan(span: Span, error: unknown, message?: string): void {
  if (!span.isRecording()) return;
  if (error != null) {
    const code = (error as { code?: unknown }).code;
    span.setAttribute(ATTR.errorCode, isErrorCode(code) ? code : INTERNAL_ERROR_CODE);
  }
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? (error instanceof Error ? error.message : String(error)) });
}

/** `fn` in a span of its own (a child of the running one, unless `options.root`); a throw marks it failed. */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      span.end();
    }
  });
}

/**
 * A request's wait for the batch that carries its change set, in the request's trace. Only inside
 * a traced request: the server's own work (resumes, saves) has no request to wait in, and `fn`
 * gets null then.
 */
export function inRequestSpan<T>(name: string, attributes: Attributes, fn: (span: Span | null) => Promise<T>): Promise<T> {
  if (!trace.getSpan(context.active())?.isRecording()) return fn(null);
  return inSpan(name, { attributes }, fn);
}

/** One request a batch carries: the span it waits in (inRequestSpan) and its request id. */
export interface BatchRequest {
  span: Span | null;
  requestId?: string;
}

/**
 * A batch belongs to no one request: its span starts a trace of its own, linked to the waiting
 * span of every request it carries, and each of those gets a link back, so either trace leads to
 * the other. Links past OTEL_SPAN_LINK_COUNT_LIMIT (128) are dropped by the SDK.
 */
export function inBatchSpan<T>(requests: readonly BatchRequest[], attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const links: Link[] = requests.flatMap((r) => (r.span ? [{ context: r.span.spanContext(), attributes: r.requestId ? { [ATTR.requestId]: r.requestId } : {} }] : []));
  return inSpan('coordinator batch', { root: true, links, attributes }, async (span) => {
    for (const r of requests) r.span?.addLink({ context: span.spanContext() });
    return fn(span);
  });
}
