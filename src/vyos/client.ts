// The one HTTP client of the VyOS API (vyos-api.md). It knows nothing of the server around it.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { context, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import fetch from 'node-fetch';
import {
  COMMIT_CONFIRM_PROBE,
  commitConfirmFromProbe,
  confirmOrderFromReply,
  deriveCapabilities,
  versionFromShowVersion,
  type CommitConfirmSetting,
  type SyntaxSetting,
} from './capabilities';
import { isEmptyPathMessage, readReply, type Reply } from './envelope';
import {
  RouterError,
  RouterErrorKind,
  type RouterApi,
  type RouterCapabilities,
  type ConfirmOrder,
  type RouterCommand,
} from './types';

// Spans of router calls, on the OpenTelemetry API only (a no-op while tracing is off).
const tracer = trace.getTracer('vyos-vm-api/vyos-client');

/** How long an unsure detection (the probe decided nothing) is used before the router is asked again. */
const UNSURE_DETECTION_MS = 30_000;
/**
 * A showConfig reply at least this long is kept (with its parse) per path, and a byte-identical
 * next reply returns the kept value: a sync of an unchanged 30,000-rule router then skips the
 * 5 MB JSON.parse and the 30,000 rules' parse behind it (issue 16). Small replies are not worth it.
 */
const KEPT_REPLY_CHARS = 64 * 1024;
/** Distinct large paths kept at once (the whole `nat destination`, a firewall chain or two). */
const KEPT_REPLIES = 4;

export interface RouterClientLogger {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** One finished API call, for metrics. `outcome` is 'ok' or a RouterErrorKind. */
export interface RouterCallEvent {
  endpoint: string;
  op: string;
  outcome: string;
  durationMs: number;
}

export interface VyosClientOptions {
  /** e.g. https://192.0.2.1 (a path prefix is kept) */
  url: string;
  key: string;
  /** reads (default 10 s) */
  timeoutMs?: number;
  /** writes: a commit takes about a second, and writers queue behind the router's lock (default 120 s) */
  writeTimeoutMs?: number;
  tlsInsecure?: boolean;
  /** PEM file with the CA (or self-signed certificate) to trust */
  caFile?: string;
  commitConfirm?: CommitConfirmSetting;
  syntax?: SyntaxSetting;
  logger?: RouterClientLogger;
  onCall?: (e: RouterCallEvent) => void;
}

type Access = 'read' | 'write';

/** Connection errors raised before a request could reach the router: nothing was sent. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** A failed TLS handshake (untrusted or mismatched certificate, not TLS at all): nothing was sent. */
function isTlsFailure(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.includes('CERT') || code === 'EPROTO' || code.startsWith('ERR_SSL_');
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

export class VyosClient implements RouterApi {
  private readonly base: string;
  private readonly key: string;
  private readonly timeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly agent: http.Agent;
  private readonly settings: { commitConfirm: CommitConfirmSetting; syntax: SyntaxSetting };
  private readonly logger?: RouterClientLogger;
  private readonly onCall?: (e: RouterCallEvent) => void;
  private detected?: Promise<RouterCapabilities>;
  private order: ConfirmOrder = 'unknown';
  /** the last large showConfig reply per request body: equal text parses to an equal value, so nothing about the router is assumed */
  private readonly keptReplies = new Map<string, { text: string; reply: Reply }>();

  constructor(opts: VyosClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.key = opts.key;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 120_000;
    this.settings = { commitConfirm: opts.commitConfirm ?? 'auto', syntax: opts.syntax ?? 'auto' };
    this.logger = opts.logger;
    this.onCall = opts.onCall;
    // No keep-alive: a commit costs a second anyway, and a reused socket the router already closed
    // would fail a write with a reset, which we would have to report as OUTCOME_UNKNOWN.
    if (new URL(this.base).protocol === 'https:') {
      this.agent = new https.Agent({
        keepAlive: false,
        ca: opts.caFile ? readFileSync(opts.caFile) : undefined,
        rejectUnauthorized: !opts.tlsInsecure,
      });
      if (opts.tlsInsecure) {
        this.logger?.warn({ url: this.base }, 'router TLS certificate is NOT verified (tlsInsecure): anyone on the path can read the API key');
      }
    } else {
      this.agent = new http.Agent({ keepAlive: false });
    }
  }

  async showConfig(path: string[]): Promise<unknown | null> {
    // vyos-api.md §3: an empty (schema-valid) path is a 400 "Configuration under specified path is empty".
    const empty = (err: RouterError) => err.kind === RouterErrorKind.REJECTED && isEmptyPathMessage(err.details.routerMessage);
    try {
      return await this.post('/retrieve', { op: 'showConfig', path }, 'read', undefined, empty);
    } catch (err) {
      if (err instanceof RouterError && empty(err)) return null;
      throw err;
    }
  }

  async exists(path: string[]): Promise<boolean> {
    const data = await this.post('/retrieve', { op: 'exists', path }, 'read');
    if (typeof data !== 'boolean') throw this.protocolError('/retrieve', `exists returned ${JSON.stringify(data)}`);
    return data;
  }

  /**
   * One batch, one commit (vyos-api.md §1). `confirmMinutes` is sent as `confirm_time`; routers
   * without commit-confirm silently ignore it and commit for good (§1 extra fields), so callers
   * must check `capabilities().commitConfirm` first. An empty batch is not sent.
   */
  async configure(commands: RouterCommand[], options: { confirmMinutes?: number } = {}): Promise<string | null> {
    if (commands.length === 0) return null;
    for (const c of commands) {
      // The API wants non-empty string paths (StrictStr, §1); catch our own bugs before the router does.
      if (c.path.length === 0 || c.path.some((el) => typeof el !== 'string')) {
        throw new TypeError(`invalid router command path: ${JSON.stringify(c.path)}`);
      }
    }
    const body: Record<string, unknown> = { commands: commands.map((c) => ({ op: c.op, path: c.path })) };
    const confirming = options.confirmMinutes !== undefined && options.confirmMinutes > 0;
    if (confirming) body['confirm_time'] = Math.ceil(options.confirmMinutes!);
    const data = textOrNull(await this.post('/configure', body, 'write', 'commands'));
    if (confirming) this.learnOrder(data);
    return data;
  }

  /** The commit-confirm order, once a reply of ours showed it (it does not change while the router runs). */
  private learnOrder(data: string | null): void {
    const order = confirmOrderFromReply(data);
    if (order === 'unknown' || order === this.order) return;
    this.order = order;
    this.logger?.debug({ confirmOrder: order }, 'router commit-confirm order learned');
  }

  async confirm(): Promise<string> {
    return textOrNull(await this.post('/configure', { op: 'confirm' }, 'write')) ?? '';
  }

  /** `save` with no file writes `/config/config.boot`, what the router boots from (vyos-api.md §2). */
  async saveBootConfig(): Promise<string> {
    return textOrNull(await this.post('/config-file', { op: 'save' }, 'write')) ?? '';
  }

  /**
   * `/configure` discards the shared session whenever a request fails inside the handler; an op no
   * version has fails there, after model validation and before any set (research on config_file_op
   * and configure_op). The refusal is the expected answer.
   */
  async discardSession(): Promise<void> {
    const refused = (err: RouterError) => err.kind === RouterErrorKind.REJECTED && /is not a valid operation/i.test(err.details.routerMessage ?? '');
    try {
      await this.post('/configure', { op: 'vyos-vm-api-discard', path: ['nat'] }, 'write', undefined, refused);
    } catch (err) {
      if (err instanceof RouterError && refused(err)) return;
      throw err;
    }
  }

  /** Saving writes a file on the router, so a lost reply is OUTCOME_UNKNOWN like any write. */
  async saveConfigFile(file: string): Promise<string> {
    return textOrNull(await this.post('/config-file', { op: 'save', file }, 'write')) ?? '';
  }

  async loadConfigFile(file: string, options: { confirmMinutes?: number } = {}): Promise<string | null> {
    const body: Record<string, unknown> = { op: 'load', file };
    if (options.confirmMinutes && options.confirmMinutes > 0) body['confirm_time'] = Math.ceil(options.confirmMinutes);
    return textOrNull(await this.post('/config-file', body, 'write'));
  }

  async showCommands(): Promise<string> {
    const data = await this.post('/show', { op: 'show', path: ['configuration', 'commands'] }, 'read', 'show');
    if (typeof data !== 'string') throw this.protocolError('/show', `expected text, got ${JSON.stringify(data)}`);
    return data;
  }

  /** `GET /info` (no key; rolling 2025+ only). Older routers answer FastAPI's 404: null. */
  async info(): Promise<{ version: string; hostname: string } | null> {
    return this.traced(callSpan('/info', 'info', 'read'), undefined, async () => {
      const { status, reply } = await this.request('GET', '/info', undefined, 'read', 'info', [404]);
      if (status === 404) return null;
      const data = this.unwrap('/info', status, reply);
      const d = data as { version?: unknown; hostname?: unknown } | null;
      if (typeof d !== 'object' || d === null || typeof d.version !== 'string') {
        throw this.protocolError('/info', `unexpected info ${JSON.stringify(data)}`);
      }
      return { version: d.version, hostname: typeof d.hostname === 'string' ? d.hostname : '' };
    });
  }

  /**
   * Detected once and cached; a failed detection is retried next time, and an unsure one (the probe
   * decided nothing) after UNSURE_DETECTION_MS. The version comes from `/info`, or `/show version`
   * on routers without it, and decides only the NAT syntax; commit-confirm is probed
   * (COMMIT_CONFIRM_PROBE), never guessed from the name. The order is learned from our own commits.
   */
  async capabilities(): Promise<RouterCapabilities> {
    if (!this.detected) {
      const detection = this.detect();
      this.detected = detection;
      detection.then(
        (caps) => {
          if (caps.commitConfirmBasis === 'unsure') setTimeout(() => this.detected === detection && (this.detected = undefined), UNSURE_DETECTION_MS).unref();
        },
        () => {
          if (this.detected === detection) this.detected = undefined;
        },
      );
    }
    return { ...(await this.detected), confirmOrder: this.order };
  }

  private async detect(): Promise<RouterCapabilities> {
    const version = await this.detectVersion();
    const probed = this.settings.commitConfirm === 'auto' ? await this.probeCommitConfirm() : null;
    const caps = deriveCapabilities({ version, probed }, this.settings);
    if (caps.commitConfirmBasis === 'unsure') this.logger?.warn({ version }, 'could not tell whether the router has commit-confirm; using plain commits until it can be told');
    return caps;
  }

  /** true / false from the probe's refusal; null when the reply decides nothing (see capabilities.ts). */
  private async probeCommitConfirm(): Promise<boolean | null> {
    try {
      await this.post(COMMIT_CONFIRM_PROBE.endpoint, { ...COMMIT_CONFIRM_PROBE.body }, 'read', 'probe', (err) => err.kind === RouterErrorKind.REJECTED);
      return null;
    } catch (err) {
      if (err instanceof RouterError && err.kind === RouterErrorKind.REJECTED) return commitConfirmFromProbe(err.details.routerMessage ?? '');
      if (err instanceof RouterError && (err.kind === RouterErrorKind.UNREACHABLE || err.kind === RouterErrorKind.UNAUTHORIZED)) throw err;
      return null;
    }
  }

  private async detectVersion(): Promise<string> {
    const info = await this.info();
    if (info && info.version !== '') return info.version;
    try {
      const text = await this.post('/show', { op: 'show', path: ['version'] }, 'read', 'show', (err) => err.kind === RouterErrorKind.REJECTED || err.kind === RouterErrorKind.PROTOCOL);
      return (typeof text === 'string' && versionFromShowVersion(text)) || 'unknown';
    } catch (err) {
      // A router (or simulator) without this op-mode command: not knowing the version is fine.
      if (err instanceof RouterError && (err.kind === RouterErrorKind.REJECTED || err.kind === RouterErrorKind.PROTOCOL)) {
        return 'unknown';
      }
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------

  /**
   * POST a raw JSON body with the key inside (vyos-api.md §1, "Raw JSON body") and unwrap it.
   * `answers`: refusals the caller takes as an answer (an empty path, a probe's 400), not a failure.
   */
  private async post(endpoint: string, body: Record<string, unknown>, access: Access, op?: string, answers?: (err: RouterError) => boolean): Promise<unknown> {
    const opName = op ?? String(body['op']);
    return this.traced(callSpan(endpoint, opName, access, body), answers, async () => {
      const { status, reply } = await this.request('POST', endpoint, JSON.stringify({ key: this.key, ...body }), access, opName);
      return this.unwrap(endpoint, status, reply);
    });
  }

  /**
   * One call's span, under the caller's (a batch stage, a traced request); work outside any span
   * (the background probe) gets none. Errors are recorded with their kind; the key never appears
   * (messages are masked), nor the command values.
   */
  private traced<T>(call: CallSpan, answers: ((err: RouterError) => boolean) | undefined, fn: () => Promise<T>): Promise<T> {
    if (!trace.getSpan(context.active())?.isRecording()) return fn();
    return tracer.startActiveSpan(call.name, { attributes: call.attributes }, async (span) => {
      try {
        const result = await fn();
        span.setAttribute('vyos.outcome', 'ok');
        return result;
      } catch (err) {
        const kind = err instanceof RouterError ? err.kind : 'error';
        span.setAttribute('vyos.outcome', kind);
        if (!(err instanceof RouterError && answers?.(err))) {
          span.setAttribute('error.type', kind);
          if (err instanceof Error) span.recordException(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        }
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private unwrap(endpoint: string, status: number, reply: Reply): unknown {
    if (reply.ok) return reply.data;
    const routerMessage = reply.routerMessage === undefined ? undefined : this.mask(reply.routerMessage);
    throw new RouterError(reply.kind, this.mask(`${endpoint}: ${reply.message}`), { status, routerMessage, endpoint });
  }

  /** One HTTP exchange; transport failures become RouterErrors, replies are classified. */
  private async request(
    method: 'GET' | 'POST',
    endpoint: string,
    body: string | undefined,
    access: Access,
    op: string,
    expectedStatuses: number[] = [],
  ): Promise<{ status: number; reply: Reply }> {
    const started = performance.now();
    const timeoutMs = access === 'write' ? this.writeTimeoutMs : this.timeoutMs;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let outcome = 'ok';
    try {
      const res = await fetch(this.base + endpoint, {
        method,
        body,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        agent: this.agent,
        signal: abort.signal,
      });
      const reply = this.readKept(op, body, res.status, await res.text());
      // An empty path is showConfig's way of saying "no such rule" (§3): an answer, not a failure.
      const empty = !reply.ok && op === 'showConfig' && isEmptyPathMessage(reply.routerMessage);
      if (!reply.ok && !expectedStatuses.includes(res.status) && !empty) outcome = reply.kind;
      return { status: res.status, reply };
    } catch (err) {
      const error = this.transportError(err, endpoint, access, abort.signal.aborted, timeoutMs);
      outcome = error.kind;
      throw error;
    } finally {
      clearTimeout(timer);
      const durationMs = performance.now() - started;
      this.logger?.debug({ endpoint, op, outcome, durationMs: Math.round(durationMs) }, 'router call');
      this.onCall?.({ endpoint, op, outcome, durationMs });
    }
  }

  /** readReply, except that a large showConfig answer equal to the last one for `body` is not parsed again. */
  private readKept(op: string, body: string | undefined, status: number, text: string): Reply {
    if (op !== 'showConfig' || body === undefined || status !== 200 || text.length < KEPT_REPLY_CHARS) return readReply(status, text);
    const kept = this.keptReplies.get(body);
    if (kept?.text === text) return kept.reply;
    const reply = readReply(status, text);
    if (!reply.ok) return reply;
    this.keptReplies.delete(body);
    if (this.keptReplies.size >= KEPT_REPLIES) this.keptReplies.delete(this.keptReplies.keys().next().value as string);
    this.keptReplies.set(body, { text, reply });
    return reply;
  }

  /**
   * vyos-api.md §1/§6: a write whose request may have reached the router (timeout, reset) may
   * have committed: OUTCOME_UNKNOWN, never "failed". Errors raised before anything was sent
   * (refused, DNS, no route, TLS handshake) are UNREACHABLE for reads and writes alike.
   */
  private transportError(err: unknown, endpoint: string, access: Access, timedOut: boolean, timeoutMs: number): RouterError {
    const code = errorCode(err);
    const reason = timedOut ? `no reply within ${timeoutMs} ms` : (err as Error)?.message ?? String(err);
    let kind: RouterErrorKind;
    if (!timedOut && NOT_SENT_CODES.has(code)) kind = RouterErrorKind.UNREACHABLE;
    else if (!timedOut && isTlsFailure(code)) kind = RouterErrorKind.UNREACHABLE;
    else kind = access === 'write' ? RouterErrorKind.OUTCOME_UNKNOWN : RouterErrorKind.TIMEOUT;
    const what =
      kind === RouterErrorKind.UNREACHABLE ? 'router unreachable'
      : kind === RouterErrorKind.TIMEOUT ? 'read failed'
      : 'write outcome unknown (it may have been applied)';
    return new RouterError(kind, this.mask(`${endpoint}: ${what}: ${reason}${code ? ` (${code})` : ''}`), { endpoint, timedOut });
  }

  private protocolError(endpoint: string, detail: string): RouterError {
    return new RouterError(RouterErrorKind.PROTOCOL, this.mask(`${endpoint}: ${detail}`), { endpoint });
  }

  /** The key never appears in errors or logs (a pydantic error echoes the whole body, key included). */
  private mask(text: string): string {
    return this.key ? text.split(this.key).join('***') : text;
  }
}

interface CallSpan {
  name: string;
  attributes: Attributes;
}

/**
 * A call's span name and attributes: `vyos commit-confirm` (a `/configure` batch with
 * `confirm_time`), `vyos configure` (one without), `vyos confirm`, `vyos retrieve showConfig`,
 * `vyos config-file save`, ... Counts only: never a command, a path or the key.
 */
export function callSpan(endpoint: string, op: string, access: Access, body: Record<string, unknown> = {}): CallSpan {
  const where = endpoint.replace(/^\//, '');
  const batch = Array.isArray(body['commands']) ? (body['commands'] as unknown[]).length : null;
  const confirming = body['confirm_time'] !== undefined;
  const name =
    where === 'configure' && batch !== null ? (confirming ? 'vyos commit-confirm' : 'vyos configure')
    : where === 'configure' && op === 'confirm' ? 'vyos confirm'
    : where === 'configure' && op === 'vyos-vm-api-discard' ? 'vyos discard'
    : where === op ? `vyos ${where}`
    : `vyos ${where} ${op}`;
  const attributes: Attributes = { 'vyos.endpoint': endpoint, 'vyos.op': op, 'vyos.access': access };
  if (batch !== null) attributes['vyos.commands'] = batch;
  if (confirming && typeof body['confirm_time'] === 'number') attributes['vyos.confirm_minutes'] = body['confirm_time'];
  return { name, attributes };
}

/** `data` of a write: warnings or confirm text; `null` and `""` both mean "nothing to say" (§1). */
function textOrNull(data: unknown): string | null {
  if (data === null || data === undefined || data === '') return null;
  return typeof data === 'string' ? data : JSON.stringify(data);
}
