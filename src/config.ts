// Environment -> typed, validated settings. The one place that reads process.env.
import { ipv4ToInt, parseIpv4Range, parseNumberRange } from './fleet/ranges.js';

export { intToIpv4, ipv4ToInt } from './fleet/ranges.js';
import { secretFromFile } from './secret-files.js';
import { OTLP_SECRET_VARIABLES } from './observability/tracing-settings.js';

export interface NumberRange {
  first: number;
  last: number;
}

export interface Ipv4Range {
  first: string;
  last: string;
}

export interface Config {
  /** null: embedded PGlite on a loopback socket, data in `dataDir` */
  databaseUrl: string | null;
  dataDir: string;
  migrateOnStart: boolean;
  /** null: the built-in router simulator */
  vyosUrl: string | null;
  vyosApiKey: string;
  vyosTlsInsecure: boolean;
  vyosCaFile: string | null;
  vyosTimeoutMs: number;
  vyosCommitTimeoutMs: number;
  vyosCommitConfirm: 'auto' | 'on' | 'off';
  /** save the running config to config.boot after every change (a commit is not a save) */
  vyosSave: boolean;
  /** VYOS_FIREWALL: whether syncReport and /health check that the forward filter lets our forwards through; manage also keeps an accept rule */
  vyosFirewall: 'off' | 'check' | 'manage';
  /** VYOS_FIREWALL_RULE: the `firewall ipv4 forward filter rule` number VYOS_FIREWALL=manage owns */
  vyosFirewallRule: number;
  /** VYOS_HAIRPIN=on: each port rule also answers on its public address from inside the LAN; null when off */
  hairpin: HairpinSettings | null;
  /** how long a batch waits out a busy router (a commit-confirm that is not ours, a held commit lock) */
  vyosBusyWaitMs: number;
  /** how long a write given up on is watched for a late commit after it was sent */
  vyosLateWriteWatchMs: number;
  /** the longest wait for running work after SIGTERM */
  shutdownDrainMs: number;
  vyosSyntax: 'auto' | '1.3' | '1.4';
  wanInterface: string;
  confirmMinutes: number;
  natRuleRange: NumberRange;
  externalPortRange: NumberRange;
  lanPool: Ipv4Range;
  port: number;
  host: string;
  adminApiKey: string | null;
  syncIntervalSeconds: number;
  /** a cheap router read when no other call finished for this long, so router_up stays current (0 = off) */
  routerProbeSeconds: number;
  autoReconcile: 'off' | 'merged' | 'replaced' | 'overridden';
  logLevel: string;
  /** when set, GET /metrics wants `Authorization: Bearer <token>` */
  metricsToken: string | null;
  batchMax: number;
  batchWindowMs: number;
  /** how long an idempotency key answers with its first result (IDEMPOTENCY_RETENTION_HOURS) */
  idempotencyRetentionMs: number;
  /** how long audit_event rows are kept (AUDIT_RETENTION_DAYS; 0 = forever) */
  auditRetentionMs: number;
  // Security limits (docs/security.md).
  /** allow introspection queries (GRAPHQL_INTROSPECTION=false turns them off, and the IDE with them) */
  graphqlIntrospection: boolean;
  maxBodyBytes: number;
  maxQueryDepth: number;
  maxQueryComplexity: number;
  /** aliased fields per document (each fragment spread counted again) */
  maxQueryAliases: number;
  /** root mutation fields per document (they run one after the other, each its own router commit) */
  maxMutationFields: number;
  /** cost units a minute per API key (the key's own limit wins), and per client address for callers without a valid key; 0 = no limit */
  rateLimitWritesPerMinute: number;
  rateLimitReadsPerMinute: number;
  wsMaxConnectionsPerKey: number;
  wsMaxSubscriptionsPerConnection: number;
  /** browser origins allowed by CORS; empty = no CORS headers at all */
  corsOrigins: string[];
  /** reverse-proxy hops whose X-Forwarded-For is trusted for the client address (0 = none) */
  trustProxyHops: number;
  /** operator-visible name of this router in locks and logs */
  routerName: string;
  /** where VYOS_API_KEY came from (`env:VYOS_API_KEY`, `file:/path`), as the router row records it; null: none given */
  vyosApiKeyRef: string | null;
  /** router config snapshots kept (rotating files on the router) */
  snapshotKeep: number;
  /** bound of the read cache (docs/read-cache.md); 0 = no read or key caching, every read asks PostgreSQL */
  readCacheMaxBytes: number;
  /** READ_PLANS: the VM list answered by planned SQL, without graphql-js (graphql/read-plans.ts) */
  readPlans: boolean;
  /** serve the GraphiQL IDE at GET /graphql to browsers */
  graphqlIde: boolean;
}

/** One bad variable and why. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Every bad variable at once (one line each), so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  /** the first bad variable; all of them are in `problems` */
  readonly variable: string;
  constructor(variable: string, message: string);
  constructor(problems: ConfigProblem[]);
  constructor(first: string | ConfigProblem[], message?: string) {
    const problems = typeof first === 'string' ? [{ variable: first, message: message ?? '' }] : first;
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
    this.variable = problems[0]?.variable ?? '';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Secrets that may also come from a file (`X_FILE`: Docker and Kubernetes secrets, systemd
 * credentials). The OTLP headers carry a collector's token; the OpenTelemetry SDK reads them, and
 * tracing.ts resolves their files for it (OTLP_SECRET_VARIABLES): here they are only checked.
 */
export const SECRET_VARIABLES = ['DATABASE_URL', 'VYOS_API_KEY', 'ADMIN_API_KEY', 'METRICS_TOKEN', ...OTLP_SECRET_VARIABLES] as const;

/** The environment being read, with `*_FILE` secrets resolved, and every problem found so far. */
class Source {
  readonly problems: ConfigProblem[] = [];
  private readonly values: Env;
  /** secret name -> the file it was read from */
  private readonly files = new Map<string, string>();
  /** secrets whose file could not be used: already reported, once */
  private readonly failedFiles = new Set<string>();

  constructor(env: Env) {
    this.values = { ...env };
    for (const name of SECRET_VARIABLES) this.readSecretFile(name);
  }

  get(name: string): string | undefined {
    return this.values[name];
  }

  /** the file a secret was read from, if it came from one */
  fileOf(name: string): string | undefined {
    return this.files.get(name);
  }

  /** Records a bad value and returns `fallback`, so reading goes on and reports the rest too. */
  bad<T>(name: string, message: string, fallback: T): T {
    if (this.failedFiles.has(name)) return fallback;
    const file = this.files.get(name);
    this.problems.push(file ? { variable: `${name}_FILE`, message: `${message} (in ${file})` } : { variable: name, message });
    return fallback;
  }

  private readSecretFile(name: string): void {
    const { value, file, problem } = secretFromFile(this.values, name);
    if (problem !== undefined) {
      this.bad(`${name}_FILE`, problem, null);
      this.failedFiles.add(name);
    } else if (value !== undefined && file !== undefined) {
      this.values[name] = value;
      this.files.set(name, file);
    }
  }
}

function text(env: Source, name: string, fallback: string): string {
  const v = env.get(name);
  return v === undefined || v.trim() === '' ? fallback : v.trim();
}

function optional(env: Source, name: string): string | null {
  const v = env.get(name);
  return v === undefined || v.trim() === '' ? null : v.trim();
}

function integer(env: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) return env.bad(name, `expected a whole number, got "${raw}"`, fallback);
  const n = Number(raw);
  if (n < min || n > max) return env.bad(name, `must be between ${min} and ${max}, got ${n}`, fallback);
  return n;
}

function bool(env: Source, name: string, fallback: boolean): boolean {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  return env.bad(name, `expected true or false, got "${raw}"`, fallback);
}

function oneOf<T extends string>(env: Source, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  const v = raw.toLowerCase() as T;
  if (!allowed.includes(v)) return env.bad(name, `expected one of ${allowed.join(', ')}, got "${raw}"`, fallback);
  return v;
}

function numberRange(env: Source, name: string, fallback: string, min: number, max: number): NumberRange {
  const raw = text(env, name, fallback);
  if (!/^(\d+)\s*-\s*(\d+)$/.test(raw)) return env.bad(name, `expected "first-last", got "${raw}"`, { first: min, last: min });
  return parseNumberRange(raw, min, max) ?? env.bad(name, `expected ${min} <= first <= last <= ${max}, got "${raw}"`, { first: min, last: min });
}

function ipv4Range(env: Source, name: string, fallback: string): Ipv4Range {
  const raw = text(env, name, fallback);
  return parseIpv4Range(raw) ?? env.bad(name, `expected "first-last" IPv4 addresses, got "${raw}"`, { first: '0.0.0.0', last: '0.0.0.0' });
}

function url(env: Source, name: string): string | null {
  const raw = optional(env, name);
  if (raw === null) return null;
  try {
    const u = new URL(raw);
    if (!/^(https?|postgres(ql)?):$/.test(u.protocol)) throw new Error('scheme');
  } catch {
    return env.bad(name, `not a valid URL: "${raw.replace(/\/\/[^@/]*@/, '//***@')}"`, null);
  }
  return raw;
}

/** Comma-separated browser origins (`https://app.example.com`), each scheme://host[:port]. */
function origins(env: Source, name: string): string[] {
  const raw = optional(env, name);
  if (raw === null) return [];
  const list: string[] = [];
  for (const o of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    let u: URL | null = null;
    try {
      u = new URL(o);
    } catch {
      // reported below
    }
    if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o.replace(/\/$/, '')) {
      return env.bad(name, `expected comma-separated origins like https://app.example.com, got "${o}"`, []);
    }
    list.push(u.origin);
  }
  return list;
}

/**
 * Reads and validates the whole configuration. Throws one ConfigError listing every bad variable
 * (`problems`), not just the first.
 */
export function loadConfig(environment: Env = process.env): Config {
  const env = new Source(environment);
  let config: Config | null = null;
  try {
    config = readConfig(env);
  } catch (e) {
    // a check that throws instead of calling env.bad() still gets reported with the rest
    if (!(e instanceof ConfigError)) throw e;
    env.problems.push(...e.problems);
  }
  if (env.problems.length > 0 || !config) throw new ConfigError(env.problems);
  return config;
}

/** NAT reflection (docs/operations.md "Hairpin"). */
export interface HairpinSettings {
  /** VYOS_LAN_INTERFACE: where LAN clients' connections to the public address arrive */
  lanInterface: string;
  /** VYOS_PUBLIC_ADDRESS: the WAN address clients use (the twin rules' `destination address`) */
  publicAddress: string;
  /** VYOS_LAN_SUBNET: the clients whose hairpinned connections are masqueraded */
  lanSubnet: string;
  /** VYOS_HAIRPIN_RULE_OFFSET: rule N's twin is `nat destination rule` N + offset */
  ruleOffset: number;
  /** VYOS_HAIRPIN_SNAT_RULE: the `nat source rule` number of the one masquerade rule */
  snatRule: number;
  /** VYOS_HAIRPIN_DEFAULT: whether a rule that does not say (`hairpin: null`) has a twin */
  byDefault: boolean;
}

const INTERFACE_NAME = /^[a-z][a-z0-9.]{0,14}$/i;

function hairpinSettings(env: Source, natRuleRange: NumberRange): HairpinSettings | null {
  if (oneOf(env, 'VYOS_HAIRPIN', 'off', ['off', 'on']) === 'off') return null;
  const required = (name: string, check: (v: string) => boolean, what: string): string => {
    const v = optional(env, name);
    if (v === null) return env.bad(name, 'required when VYOS_HAIRPIN=on', '');
    return check(v) ? v : env.bad(name, `expected ${what}, got "${v}"`, '');
  };
  const lanInterface = required('VYOS_LAN_INTERFACE', (v) => INTERFACE_NAME.test(v), 'an interface name');
  const publicAddress = required('VYOS_PUBLIC_ADDRESS', (v) => ipv4ToInt(v) !== null, 'an IPv4 address');
  const lanSubnet = required('VYOS_LAN_SUBNET', (v) => /^[\d.]+\/(\d|[12]\d|3[0-2])$/.test(v) && ipv4ToInt(v.split('/')[0]) !== null, 'an IPv4 network like 192.168.64.0/24');
  const size = natRuleRange.last - natRuleRange.first + 1;
  let ruleOffset = integer(env, 'VYOS_HAIRPIN_RULE_OFFSET', 100_000, 1, 999_998);
  if (ruleOffset < size || natRuleRange.last + ruleOffset > 999_999) {
    ruleOffset = env.bad('VYOS_HAIRPIN_RULE_OFFSET', `twins of NAT_RULE_RANGE must lie outside it and below 1000000: at least ${size} and at most ${999_999 - natRuleRange.last}`, ruleOffset);
  }
  const snatRule = integer(env, 'VYOS_HAIRPIN_SNAT_RULE', 9000, 1, 999_999);
  const byDefault = oneOf(env, 'VYOS_HAIRPIN_DEFAULT', 'on', ['on', 'off']) === 'on';
  return { lanInterface, publicAddress, lanSubnet, ruleOffset, snatRule, byDefault };
}

function readConfig(env: Source): Config {
  const vyosUrl = url(env, 'VYOS_URL');
  let vyosApiKey = optional(env, 'VYOS_API_KEY');
  if (vyosUrl && !vyosApiKey) vyosApiKey = env.bad('VYOS_API_KEY', 'required when VYOS_URL is set (or VYOS_API_KEY_FILE)', null);
  let wanInterface = text(env, 'VYOS_WAN_INTERFACE', 'eth0');
  if (!/^[a-z][a-z0-9.]{0,14}$/i.test(wanInterface)) {
    wanInterface = env.bad('VYOS_WAN_INTERFACE', `not an interface name: "${wanInterface}"`, wanInterface);
  }
  const logLevel = oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
  // The SDK reads the OTEL_* variables itself and only warns on a bad protocol (then exports
  // nothing): checked here so a typo stops the start with the rest.
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) oneOf(env, name, 'http/protobuf', ['http/protobuf', 'http/json', 'grpc']);
  let metricsToken = optional(env, 'METRICS_TOKEN');
  if (metricsToken !== null && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    metricsToken = env.bad('METRICS_TOKEN', 'expected 16 to 256 visible ASCII characters without spaces (e.g. `openssl rand -hex 32`)', null);
  }
  const natRuleRange = numberRange(env, 'NAT_RULE_RANGE', '10000-19999', 1, 999_999);
  return {
    databaseUrl: url(env, 'DATABASE_URL'),
    dataDir: text(env, 'DATA_DIR', './.data'),
    migrateOnStart: bool(env, 'MIGRATE_ON_START', true),
    vyosUrl,
    vyosApiKey: vyosApiKey ?? 'simulator-key',
    vyosApiKeyRef: vyosApiKey == null ? null : env.fileOf('VYOS_API_KEY') ? `file:${env.fileOf('VYOS_API_KEY')}` : 'env:VYOS_API_KEY',
    vyosTlsInsecure: bool(env, 'VYOS_TLS_INSECURE', false),
    vyosCaFile: optional(env, 'VYOS_CA_FILE'),
    vyosTimeoutMs: integer(env, 'VYOS_TIMEOUT_MS', 10_000, 100, 600_000),
    // Aligned with the router's own bound (nginx proxy_read_timeout 600 s, vyos-api.md §6): a write
    // we give up on earlier may still commit later.
    vyosCommitTimeoutMs: integer(env, 'VYOS_COMMIT_TIMEOUT_MS', 610_000, 100, 900_000),
    vyosCommitConfirm: oneOf(env, 'VYOS_COMMIT_CONFIRM', 'auto', ['auto', 'on', 'off']),
    vyosSave: oneOf(env, 'VYOS_SAVE', 'on', ['on', 'off']) === 'on',
    vyosFirewall: oneOf(env, 'VYOS_FIREWALL', 'check', ['off', 'check', 'manage']),
    vyosFirewallRule: integer(env, 'VYOS_FIREWALL_RULE', 9000, 1, 999_999),
    hairpin: hairpinSettings(env, natRuleRange),
    vyosBusyWaitMs: integer(env, 'VYOS_BUSY_WAIT_SECONDS', 90, 0, 3600) * 1000,
    // The router's own bound is nginx's 600 s, and its write lock has none (vyos-api.md §6): twice that.
    vyosLateWriteWatchMs: integer(env, 'VYOS_LATE_WRITE_WATCH_SECONDS', 1200, 1, 86_400) * 1000,
    shutdownDrainMs: integer(env, 'SHUTDOWN_DRAIN_SECONDS', 120, 1, 3600) * 1000,
    vyosSyntax: oneOf(env, 'VYOS_SYNTAX', 'auto', ['auto', '1.3', '1.4']),
    wanInterface,
    confirmMinutes: integer(env, 'VYOS_CONFIRM_MINUTES', 1, 1, 60),
    natRuleRange,
    externalPortRange: numberRange(env, 'EXTERNAL_PORT_RANGE', '32000-33000', 1, 65_535),
    lanPool: ipv4Range(env, 'LAN_POOL', '192.168.64.100-192.168.64.199'),
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host: text(env, 'HOST', '0.0.0.0'),
    adminApiKey: optional(env, 'ADMIN_API_KEY'),
    syncIntervalSeconds: integer(env, 'SYNC_INTERVAL_SECONDS', 60, 0, 86_400),
    routerProbeSeconds: integer(env, 'ROUTER_PROBE_SECONDS', 15, 0, 3600),
    autoReconcile: oneOf(env, 'AUTO_RECONCILE', 'off', ['off', 'merged', 'replaced', 'overridden']),
    logLevel,
    metricsToken,
    batchMax: integer(env, 'BATCH_MAX', 100, 1, 10_000),
    batchWindowMs: integer(env, 'BATCH_WINDOW_MS', 5, 0, 10_000),
    idempotencyRetentionMs: integer(env, 'IDEMPOTENCY_RETENTION_HOURS', 24, 1, 8760) * 3_600_000,
    auditRetentionMs: integer(env, 'AUDIT_RETENTION_DAYS', 90, 0, 36_500) * 86_400_000,
    graphqlIntrospection: bool(env, 'GRAPHQL_INTROSPECTION', true),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1_048_576, 1024, 100 * 1_048_576),
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 10, 2, 100),
    maxQueryComplexity: integer(env, 'MAX_QUERY_COMPLEXITY', 20_000, 10, 10_000_000),
    maxQueryAliases: integer(env, 'MAX_QUERY_ALIASES', 20, 0, 10_000),
    maxMutationFields: integer(env, 'MAX_MUTATION_FIELDS', 10, 1, 1000),
    // A batch workload (100 concurrent changes, then a reconcile) fits in one minute's allowance.
    rateLimitWritesPerMinute: integer(env, 'RATE_LIMIT_WRITES_PER_MINUTE', 300, 0, 1_000_000),
    rateLimitReadsPerMinute: integer(env, 'RATE_LIMIT_READS_PER_MINUTE', 600, 0, 1_000_000),
    wsMaxConnectionsPerKey: integer(env, 'WS_MAX_CONNECTIONS_PER_KEY', 10, 1, 100_000),
    wsMaxSubscriptionsPerConnection: integer(env, 'WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', 20, 1, 100_000),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    trustProxyHops: integer(env, 'TRUST_PROXY_HOPS', 0, 0, 10),
    routerName: text(env, 'ROUTER_NAME', 'default'),
    snapshotKeep: integer(env, 'SNAPSHOT_KEEP', 20, 1, 1000),
    graphqlIde: bool(env, 'GRAPHQL_IDE', true),
    readCacheMaxBytes: integer(env, 'READ_CACHE_MAX_BYTES', 32 * 1_048_576, 0, 4096 * 1_048_576),
    readPlans: bool(env, 'READ_PLANS', true),
  };
}
