// The VyOS reply envelope and its status codes -> data or a typed error (vyos-api.md §1). Pure.
import { RouterErrorKind } from './types';

/** What a reply said: the envelope's data, or why it failed. */
export type Reply =
  | { ok: true; data: unknown }
  | { ok: false; kind: RouterErrorKind; message: string; routerMessage?: string };

interface Envelope {
  success: boolean;
  data?: unknown;
  error?: unknown;
}

function asEnvelope(text: string): Envelope | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const success = (body as Record<string, unknown>)['success'];
  return typeof success === 'boolean' ? (body as Envelope) : undefined;
}

/** For the error's message only; `routerMessage` keeps the router's text verbatim. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function snippet(text: string): string {
  const flat = oneLine(text);
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}

/**
 * Classify a reply. The body is JSON under `Content-Type: text/html` (FastAPI HTMLResponse), so the
 * content type is ignored. Anything that is not `{"success": bool, ...}` is a protocol error, e.g.
 * FastAPI's own `{"detail": ...}` for a 404/405 or an nginx HTML page; except that 401 and 5xx are
 * classified by status alone, since nginx and FastAPI answer those without the envelope too.
 */
export function readReply(status: number, text: string): Reply {
  const envelope = asEnvelope(text);
  const routerMessage = typeof envelope?.error === 'string' ? envelope.error : undefined;
  if (status === 401) {
    return { ok: false, kind: RouterErrorKind.UNAUTHORIZED, message: `HTTP 401: ${snippet(routerMessage ?? text)}`, routerMessage };
  }
  if (status >= 500) {
    return { ok: false, kind: RouterErrorKind.SERVER_ERROR, message: `HTTP ${status}: ${snippet(routerMessage ?? text)}`, routerMessage };
  }
  if (!envelope) {
    return { ok: false, kind: RouterErrorKind.PROTOCOL, message: `HTTP ${status}: not a VyOS reply: ${snippet(text)}` };
  }
  if (envelope.success) return { ok: true, data: envelope.data ?? null };
  // 400/422 (validation, commit failure, bad op), or any other status with success:false.
  return {
    ok: false,
    kind: RouterErrorKind.REJECTED,
    message: `HTTP ${status}: rejected: ${routerMessage === undefined ? '(no error text)' : oneLine(routerMessage)}`,
    routerMessage: routerMessage ?? '',
  };
}

/** showConfig on a path with nothing under it (vyos-api.md §3): the client answers null. */
export function isEmptyPathMessage(routerMessage: string | undefined): boolean {
  return routerMessage !== undefined && /specified path is empty/i.test(routerMessage);
}
