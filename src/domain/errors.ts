// The closed error vocabulary (design.md "Errors"): the codes, how loudly each is logged, the
// factories, and the mapping of anything thrown to it. Every error a client can see is made here.
import { DriverException, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { RouterError, RouterErrorKind } from '../vyos/types.js';

export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  POOL_EXHAUSTED = 'POOL_EXHAUSTED',
  ROUTER_UNAVAILABLE = 'ROUTER_UNAVAILABLE',
  ROUTER_REJECTED = 'ROUTER_REJECTED',
  ROLLBACK_FAILED = 'ROLLBACK_FAILED',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
}

/** What each code tells a client (rendered into docs/api-reference.md). */
export const ERROR_CODE_DESCRIPTIONS: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.BAD_USER_INPUT]: 'The request is malformed or a value is invalid (a name, address, port, description, page size, or a query the schema refuses); `extensions.field` names the input when there is one. Fix the request; retrying it unchanged fails again.',
  [ErrorCode.NOT_FOUND]: 'No VM, port rule or other object has that id (`extensions.id`).',
  [ErrorCode.CONFLICT]: 'What was asked for is taken: a VM name, an internal address, or an external port whose protocol overlaps an existing rule (TCP_UDP overlaps both). Choose another value or let the server allocate one.',
  [ErrorCode.POOL_EXHAUSTED]: 'No free value is left to allocate in a pool (`extensions.pool`: NAT_RULE_RANGE, EXTERNAL_PORT_RANGE or LAN_POOL). Free some, or widen the range.',
  [ErrorCode.ROUTER_UNAVAILABLE]: 'The router could not be reached or did not answer in time, and the change was not made; or (`extensions.reason` SHUTTING_DOWN, HTTP 503) the server is shutting down and took no new request. Safe to retry later (with the same idempotencyKey, for a create or applyVm).',
  [ErrorCode.ROUTER_REJECTED]: 'The router refused the change (`extensions.routerMessage` is its own message); the router discarded the batch and the database was rolled back, and a RollbackEvent was recorded.',
  [ErrorCode.ROLLBACK_FAILED]: 'A change failed after reaching the router and undoing it failed too: the database was not changed, but the router may still hold part of the change. A RollbackEvent with outcome ROLLBACK_FAILED was recorded; an operator should check `syncReport` and run `reconcile`.',
  [ErrorCode.UNAUTHENTICATED]: 'No API key, or an unknown, revoked or expired one. Send `Authorization: Bearer <key>` (WebSocket: `connectionParams.authorization`).',
  [ErrorCode.FORBIDDEN]: "The key's role is too weak for this operation (`extensions.needed` names the role it needs).",
};

/** The code a masked internal error leaves with: outside the closed set, it tells a client nothing. */
export const INTERNAL_ERROR_CODE = 'INTERNAL_SERVER_ERROR';

/**
 * Codes of the automatic persisted queries protocol (Apollo's APQ), outside the closed set: they
 * are not failures but the protocol's own replies, which an APQ client link switches on (send
 * the full query with its hash; or stop sending hashes). Passed through as they are, logged at debug.
 */
export enum ProtocolCode {
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED = 'PERSISTED_QUERY_NOT_SUPPORTED',
}

const PROTOCOL = new Set<string>(Object.values(ProtocolCode));

export function isProtocolCode(code: unknown): code is ProtocolCode {
  return typeof code === 'string' && PROTOCOL.has(code);
}

/** The levels errors are logged at (a subset of pino's, so a logger takes them as they are). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * How loudly each code is logged: a caller's mistake quietly, a refused key at info (worth an
 * audit trail), trouble an operator must look at (a full pool, the router) as a warning, and a
 * router that may be left half-changed as an error.
 */
export const ERROR_LOG_LEVELS: Readonly<Record<ErrorCode, LogLevel>> = {
  [ErrorCode.BAD_USER_INPUT]: 'debug',
  [ErrorCode.NOT_FOUND]: 'debug',
  [ErrorCode.CONFLICT]: 'info',
  [ErrorCode.UNAUTHENTICATED]: 'info',
  [ErrorCode.FORBIDDEN]: 'info',
  [ErrorCode.POOL_EXHAUSTED]: 'warn',
  [ErrorCode.ROUTER_UNAVAILABLE]: 'warn',
  [ErrorCode.ROUTER_REJECTED]: 'warn',
  [ErrorCode.ROLLBACK_FAILED]: 'error',
};

const CLOSED = new Set<string>(Object.values(ErrorCode));

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && CLOSED.has(code);
}

/** The level an error with this code is logged at; APQ protocol replies at debug; anything else outside the closed set is internal: error. */
export function logLevelOf(code: unknown): LogLevel {
  if (isProtocolCode(code)) return 'debug';
  return isErrorCode(code) ? ERROR_LOG_LEVELS[code] : 'error';
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** safe, client-visible extras (field name, router message, ...) */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  get logLevel(): LogLevel {
    return ERROR_LOG_LEVELS[this.code];
  }
}

export const badInput = (field: string, message: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
export const notFound = (what: string, id: string) =>
  new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`, { id });
export const conflict = (message: string, extensions: Record<string, unknown> = {}) =>
  new AppError(ErrorCode.CONFLICT, message, extensions);
export const poolExhausted = (pool: string) =>
  new AppError(ErrorCode.POOL_EXHAUSTED, `no free value left in ${pool}`, { pool });
export const routerUnavailable = (message: string) =>
  new AppError(ErrorCode.ROUTER_UNAVAILABLE, `router unavailable: ${message}`);
/** The router was busy (a commit-confirm not ours pending, a held commit lock) for longer than VYOS_BUSY_WAIT_SECONDS: retry later. */
export const routerBusy = (routerMessage: string, waitedMs: number) =>
  new AppError(ErrorCode.ROUTER_UNAVAILABLE, `router busy for ${Math.round(waitedMs / 1000)} s: ${routerMessage.trim()}; nothing was changed, retry later`, {
    reason: 'ROUTER_BUSY',
    routerMessage: routerMessage.trim(),
  });
export const routerRejected = (routerMessage: string) =>
  new AppError(ErrorCode.ROUTER_REJECTED, `router rejected the change: ${routerMessage.trim()}`, { routerMessage });
export const rollbackFailed = (message: string) =>
  new AppError(ErrorCode.ROLLBACK_FAILED, message);
export const unauthenticated = (message = 'a valid API key is required') =>
  new AppError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (needed: string) =>
  new AppError(ErrorCode.FORBIDDEN, `this operation needs the ${needed} role`, { needed });
/** A request that reached a server draining for shutdown (docs/deploy.md): nothing was done; retry. */
export const shuttingDown = () =>
  new AppError(ErrorCode.ROUTER_UNAVAILABLE, 'this server is shutting down and takes no new requests; retry (another replica answers)', { reason: 'SHUTTING_DOWN' });

// Unique constraints (migrations/) by name: the input field each one guards.
const CONSTRAINT_MESSAGES: [RegExp, string, string][] = [
  [/vm_name_unique/, 'name', 'a VM with this name already exists'],
  [/vm_internal_ip_unique/, 'internalIp', 'this internal IP is already used by another VM'],
  [/vm_idempotency_key_unique/, 'idempotencyKey', 'this idempotency key was already used'],
  [/port_rule_(tcp|udp)_port_unique/, 'externalPort', 'this external port is already forwarded for that protocol'],
  [/port_rule_(tcp|udp)_ports_excl/, 'externalPort', 'a port of this range is already forwarded for that protocol'],
  [/port_rule_rule_number_unique/, 'ruleNumber', 'this rule number is already used'],
  [/port_rule_vm_id_name_unique/, 'name', 'the VM already has a port rule with this name'],
  [/idempotency_key_pkey/, 'idempotencyKey', 'this idempotency key is being used by a request running now; retry it'],
];

/** Maps anything thrown to the closed error vocabulary; what it cannot map is returned as an Error, to be masked. */
export function toClientError(e: unknown): Error {
  if (e instanceof AppError) return e;
  // 23P01: an exclusion constraint (two rules' port ranges overlap); the driver has no class for it
  if (e instanceof UniqueConstraintViolationException || (e instanceof DriverException && e.code === '23P01')) {
    const hit = CONSTRAINT_MESSAGES.find(([re]) => re.test(e.message));
    return hit ? conflict(`${hit[1]}: ${hit[2]}`, { field: hit[1] }) : conflict('a value that must be unique is already taken');
  }
  if (e instanceof RouterError) {
    if (e.kind === RouterErrorKind.REJECTED) return routerRejected(e.details.routerMessage ?? e.message);
    if (e.kind === RouterErrorKind.UNAUTHORIZED) return routerUnavailable('the router refused our API key (HTTP 401)');
    return routerUnavailable(e.message);
  }
  return e instanceof Error ? e : new Error(String(e));
}
