// The typed GraphQL client vmapi runs on: TypedDocumentNodes from generated/graphql.ts, sent with
// fetch and print() (HTTP) or graphql-ws (subscriptions). Every server error becomes a CliError
// carrying the exit status of its `extensions.code` (exit-codes.ts).
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';

export interface ClientOptions {
  /** the GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql */
  url: string;
  /** the API key; null sends none (the server answers UNAUTHENTICATED) */
  key: string | null;
  /** where the progress line goes (stderr); null: no progress line */
  progress: NodeJS.WriteStream | null;
  /** how long a change may wait before the progress line appears */
  progressAfterMs: number;
}

interface WireError {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [k: string]: unknown };
}

/** The details worth a line next to the message, when the server gives them. */
const DETAIL_KEYS = ['field', 'id', 'pool', 'needed', 'routerMessage', 'retryAfterSeconds', 'reason'] as const;

export function errorFromReply(errors: readonly WireError[]): CliError {
  const [first] = errors;
  const code = first.extensions?.code;
  // One line for a log: router messages span lines, and often repeat in the message.
  const oneLine = (v: unknown) => String(v).replace(/\s+/g, ' ').trim();
  const text = oneLine(first.message);
  const details = DETAIL_KEYS.filter((k) => first.extensions?.[k] !== undefined && !text.includes(oneLine(first.extensions[k]))).map((k) => `${k}=${JSON.stringify(first.extensions![k])}`);
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
  const message = `${code ?? 'ERROR'}: ${text}${details.length ? ` [${details.join(' ')}]` : ''}${more}`;
  return new CliError(message, exitCodeOf(first.extensions), code);
}

/**
 * While a change waits on the router: on a terminal, one line updated every second and erased
 * when the reply comes; elsewhere (a log, Ansible) a single line, once. Returns the stop function.
 */
function waitNotice(stream: NodeJS.WriteStream | null, afterMs: number, what: string): () => void {
  if (!stream) return () => {};
  const started = Date.now();
  let shown = false;
  let ticker: NodeJS.Timeout | undefined;
  const show = () => {
    shown = true;
    if (!stream.isTTY) {
      stream.write(`vmapi: ${what}: waiting for the router…\n`);
      return;
    }
    const draw = () => stream.write(`\r\x1b[K${what}: waiting for the router… ${Math.round((Date.now() - started) / 1000)}s`);
    draw();
    ticker = setInterval(draw, 1000);
    ticker.unref();
  };
  const timer = afterMs <= 0 ? (show(), undefined) : setTimeout(show, afterMs);
  timer?.unref();
  return () => {
    clearTimeout(timer);
    clearInterval(ticker);
    if (shown && stream.isTTY) stream.write('\r\x1b[K');
  };
}

export class GraphQLClient {
  constructor(readonly options: ClientOptions) {}

  private headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(this.options.key ? { authorization: `Bearer ${this.options.key}` } : {}),
    };
  }

  /**
   * Runs a query or mutation. `router`: the operation waits on the router (a change answers once
   * the router has committed, or the change was undone), so a progress line names it meanwhile.
   */
  async request<TResult, TVariables extends Record<string, unknown>>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables, opts: { router?: string } = {}): Promise<TResult> {
    const stop = opts.router ? waitNotice(this.options.progress, this.options.progressAfterMs, opts.router) : () => {};
    let status = 0;
    let text: string;
    try {
      const res = await fetch(this.options.url, { method: 'POST', headers: this.headers(), body: JSON.stringify({ query: print(document), variables }) });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new CliError(`cannot reach ${this.options.url}: ${cause}`, EXIT.UNREACHABLE);
    } finally {
      stop();
    }
    let body: { data?: TResult | null; errors?: WireError[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new CliError(`${this.options.url} answered HTTP ${status} without a GraphQL reply (is --url the /graphql endpoint?)`, EXIT.UNREACHABLE);
    }
    if (body.errors?.length) throw errorFromReply(body.errors);
    if (!body.data) throw new CliError(`${this.options.url} answered HTTP ${status} with neither data nor errors`, EXIT.ERROR);
    return body.data;
  }

  /** A graphql-ws client on the same endpoint (ws:// or wss://), the key in connectionParams. */
  socket(on: { connected?: () => void } = {}): Client {
    const url = this.options.url.replace(/^http/, 'ws');
    return createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: this.options.key ? { authorization: `Bearer ${this.options.key}` } : {},
      // Reconnect after a dropped connection, but not when the key is refused (4403) or too
      // many sockets are open for it (4429): retrying would not change the answer.
      retryAttempts: 5,
      shouldRetry: (e) => !(isCloseEvent(e) && (e.code === 4403 || e.code === 4429)),
      on: { connected: () => on.connected?.() },
    });
  }
}

export function isCloseEvent(e: unknown): e is { code: number; reason: string } {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number' && 'reason' in e;
}

/** A subscription's failure (a close event, a network error, GraphQL errors) as a CliError. */
export function socketError(e: unknown, url: string): CliError {
  if (Array.isArray(e)) return errorFromReply(e as WireError[]);
  if (isCloseEvent(e)) {
    if (e.code === 4403) return new CliError(`UNAUTHENTICATED: ${e.reason || 'the server refused the API key'}`, EXIT.UNAUTHENTICATED, 'UNAUTHENTICATED');
    if (e.code === 4429) return new CliError(`FORBIDDEN: ${e.reason}`, EXIT.FORBIDDEN, 'FORBIDDEN');
    return new CliError(`the WebSocket to ${url} closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`, EXIT.UNREACHABLE);
  }
  const message = e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e);
  return new CliError(`cannot reach ${url}: ${message}`, EXIT.UNREACHABLE);
}
