// The closed error vocabulary (design.md "Errors"). Every error a client can see is made here.

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
  [ErrorCode.ROUTER_UNAVAILABLE]: 'The router could not be reached or did not answer in time, and the change was not made. Safe to retry later (with the same idempotencyKey for provisionVm).',
  [ErrorCode.ROUTER_REJECTED]: 'The router refused the change (`extensions.routerMessage` is its own message); the router discarded the batch and the database was rolled back, and a RollbackEvent was recorded.',
  [ErrorCode.ROLLBACK_FAILED]: 'A change failed after reaching the router and undoing it failed too: the database was not changed, but the router may still hold part of the change. A RollbackEvent with outcome ROLLBACK_FAILED was recorded; an operator should check `syncReport` and run `reconcile`.',
  [ErrorCode.UNAUTHENTICATED]: 'No API key, or an unknown, revoked or expired one. Send `Authorization: Bearer <key>` (WebSocket: `connectionParams.authorization`).',
  [ErrorCode.FORBIDDEN]: "The key's role is too weak for this operation (`extensions.needed` names the role it needs).",
};

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
export const routerRejected = (routerMessage: string) =>
  new AppError(ErrorCode.ROUTER_REJECTED, `router rejected the change: ${routerMessage.trim()}`, { routerMessage });
export const rollbackFailed = (message: string) =>
  new AppError(ErrorCode.ROLLBACK_FAILED, message);
export const unauthenticated = (message = 'a valid API key is required') =>
  new AppError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (needed: string) =>
  new AppError(ErrorCode.FORBIDDEN, `this operation needs the ${needed} role`, { needed });
