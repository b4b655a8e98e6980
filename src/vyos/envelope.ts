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

/** 1.3's nginx answers 501/502/503 as HTTP 200 `{"error": "..."}` with no `success` (vyos-api.md §1). */
function isGatewayError(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    return body && typeof body === 'object' && !('success' in body) && typeof body['error'] === 'string' ? body['error'] : undefined;
  } catch {
    return undefined;
  }
}

/** Newer builds pass error text through `html.escape(msg, quote=False)` (§1): users see `<`, not `&lt;`. */
export function unescapeRouterText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Refusals that mean "busy, try again", not "your change is wrong" (§4 pending confirm, §6 commit lock). */
export function isBusyMessage(routerMessage: string): boolean {
  return /another confirm is pending|temporarily locked due to another commit in progress/i.test(routerMessage);
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
  const routerMessage = typeof envelope?.error === 'string' ? unescapeRouterText(envelope.error) : undefined;
  const gateway = status === 200 && !envelope ? isGatewayError(text) : undefined;
  if (gateway !== undefined) {
    // The API process behind nginx failed: for a write, the outcome is unknown.
    return { ok: false, kind: RouterErrorKind.SERVER_ERROR, message: `HTTP 200 from nginx for a gateway error: ${snippet(gateway)}`, routerMessage: gateway };
  }
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
    kind: routerMessage !== undefined && isBusyMessage(routerMessage) ? RouterErrorKind.BUSY : RouterErrorKind.REJECTED,
    message: `HTTP ${status}: rejected: ${routerMessage === undefined ? '(no error text)' : oneLine(routerMessage)}`,
    routerMessage: routerMessage ?? '',
  };
}

/** showConfig on a path with nothing under it (vyos-api.md §3): the client answers null. */
export function isEmptyPathMessage(routerMessage: string | undefined): boolean {
  return routerMessage !== undefined && /specified path is empty/i.test(routerMessage);
}
