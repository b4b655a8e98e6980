// Whether this process traces, decided from the standard OTEL_* variables alone, and what a span
// may say about a query (pure, so both are unit-tested; tracing.ts acts on them). These variables are the OpenTelemetry SDK's own: it reads
// them itself (exporter, protocol, headers, sampler, limits); config.ts does not, because tracing
// has to start before anything else is loaded.

export const DEFAULT_SERVICE_NAME = 'vyos-vm-api';

/** The SDK's variables that carry a secret (`authorization=Bearer …`): each may come from `X_FILE`. */
export const OTLP_SECRET_VARIABLES = ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'] as const;

export interface TracingSettings {
  enabled: boolean;
  /** why it is on or off, for the start-up line */
  reason: string;
  /** service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one */
  defaultServiceName: string | null;
  /** the SDK's metrics and logs pipelines run only when asked for: /metrics and stdout are ours */
  metrics: boolean;
  logs: boolean;
}

type Env = Record<string, string | undefined>;

const set = (v: string | undefined) => v !== undefined && v.trim() !== '';
const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

/**
 * Off unless configured: on when an OTLP endpoint is given (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER names an exporter, and neither
 * OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says otherwise.
 */
export function tracingSettings(env: Env): TracingSettings {
  const off = (reason: string): TracingSettings => ({ enabled: false, reason, defaultServiceName: null, metrics: false, logs: false });
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return off('OTEL_SDK_DISABLED=true');
  const exporters = list(env.OTEL_TRACES_EXPORTER);
  if (exporters[0] === 'none') return off('OTEL_TRACES_EXPORTER=none');
  const endpoint = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!endpoint && exporters.length === 0) return off('no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER');
  const named = set(env.OTEL_SERVICE_NAME) || list(env.OTEL_RESOURCE_ATTRIBUTES).some((kv) => kv.startsWith('service.name='));
  return {
    enabled: true,
    reason: endpoint ? 'an OTLP endpoint is configured' : `OTEL_TRACES_EXPORTER=${exporters.join(',')}`,
    defaultServiceName: named ? null : DEFAULT_SERVICE_NAME,
    metrics: set(env.OTEL_METRICS_EXPORTER),
    logs: set(env.OTEL_LOGS_EXPORTER),
  };
}

/**
 * A statement as a pg span records it (`db.query.text`), string literals masked: MikroORM sends
 * values inline, and a VM name, a description or a key's hash is nobody's business in a trace
 * backend. Numbers (ports, rule numbers) stay.
 */
export function maskSqlLiterals(text: string): string {
  return text.replace(/'(?:[^']|'')*'/g, "'?'");
}
