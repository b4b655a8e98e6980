// OpenTelemetry tracing (docs/monitoring.md "Traces"). Importing this module starts it, when the
// OTEL_* variables configure it (tracing-settings.ts): the instrumentations patch http, express,
// graphql and pg as those load, so it must load first. main.ts imports it before anything else;
// another entry point can use `node --require ./dist/src/observability/tracing.js`. With tracing
// off nothing of the SDK is loaded: our spans (spans.ts, vyos/client.ts) hit the API's no-op.
import type { IncomingMessage } from 'node:http';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { secretFromFile } from '../secret-files.js';
import { OTLP_SECRET_VARIABLES, maskSqlLiterals, tracingSettings, type TracingSettings } from './tracing-settings.js';

// The SDK reads its headers from the environment: put a `_FILE`'s contents there first (and drop
// the `_FILE`, so config.ts does not see both). A file that cannot be used is left to config.ts,
// which refuses to start and names it with every other bad variable.
for (const name of OTLP_SECRET_VARIABLES) {
  const { value } = secretFromFile(process.env, name);
  if (value === undefined) continue;
  process.env[name] = value;
  delete process.env[`${name}_FILE`];
}

const settings = tracingSettings(process.env);
const sdk = settings.enabled ? start(settings) : null;

/** Whether this process traces, and why (main.ts logs it once). */
export function tracingStatus(): { enabled: boolean; reason: string } {
  return { enabled: sdk !== null, reason: settings.reason };
}

/** How long the last export may take at shutdown: an unreachable collector never holds the exit. */
const STOP_TIMEOUT_MS = 3000;

/** Exports what is still buffered and stops (shutdown). Never throws: traces are not worth a failed exit. */
export async function stopTracing(): Promise<void> {
  if (!sdk) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)));
  await Promise.race([sdk.shutdown().catch(() => undefined), late]);
  clearTimeout(timer);
}

// Probes are polled every few seconds: a trace each would drown the ones that matter.
const PROBES = new Set(['/health', '/ready', '/live', '/metrics']);

function start(s: TracingSettings): NodeSDK {
  // require(), not import: loaded only when tracing is on.
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES win; the SDK reads both.
    serviceName: s.defaultServiceName ?? undefined,
    // Metrics stay on /metrics and logs on stdout unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for more.
    ...(s.metrics ? {} : { metricReaders: [] }),
    ...(s.logs ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => PROBES.has((req.url ?? '').split('?')[0].replace(/\/+$/, '').toLowerCase()),
        // Router calls are traced inside a request or a batch, not from the background probe.
        requireParentforOutgoingSpans: true,
      }),
      // Only the route (the HTTP span is named `POST /graphql`) and handlers: no span per middleware.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Parse, validate, execute, and the root field's resolver; argument values are never recorded.
      new GraphQLInstrumentation({ depth: 1, mergeItems: true, ignoreTrivialResolveSpans: true, allowValues: false }),
      // Queries of a request or a batch (the background job's and the change feed's are not
      // traced), with their string values masked.
      new PgInstrumentation({
        requireParentSpan: true,
        requestHook: (span, info) => {
          if (typeof info.query.text === 'string') span.setAttribute('db.query.text', maskSqlLiterals(info.query.text));
        },
      }),
    ],
  });
  sdk.start();
  return sdk;
}
