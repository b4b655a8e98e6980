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
