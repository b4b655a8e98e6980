// vmapi's exit status: one number per outcome a script may want to branch on (docs/cli.md).
// Kept free of server imports: the CLI is a client and loads nothing of the server.

export const EXIT = {
  OK: 0,
  /** anything else: an internal server error, an unexpected reply */
  ERROR: 1,
  /** wrong arguments, an unreadable or invalid file: nothing was sent */
  USAGE: 2,
  /** the server could not be reached, or did not answer with GraphQL */
  UNREACHABLE: 3,
  BAD_USER_INPUT: 10,
  NOT_FOUND: 11,
  CONFLICT: 12,
  POOL_EXHAUSTED: 13,
  ROUTER_UNAVAILABLE: 14,
  ROUTER_REJECTED: 15,
  ROLLBACK_FAILED: 16,
  UNAUTHENTICATED: 17,
  FORBIDDEN: 18,
  /** FORBIDDEN with `extensions.reason` RATE_LIMITED: retry after `retryAfterSeconds` */
  RATE_LIMITED: 19,
} as const;

/** The server's error codes (design.md "Errors"), each with its exit status. */
export const EXIT_BY_ERROR_CODE: Readonly<Record<string, number>> = {
  BAD_USER_INPUT: EXIT.BAD_USER_INPUT,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.CONFLICT,
  POOL_EXHAUSTED: EXIT.POOL_EXHAUSTED,
  ROUTER_UNAVAILABLE: EXIT.ROUTER_UNAVAILABLE,
  ROUTER_REJECTED: EXIT.ROUTER_REJECTED,
  ROLLBACK_FAILED: EXIT.ROLLBACK_FAILED,
  UNAUTHENTICATED: EXIT.UNAUTHENTICATED,
  FORBIDDEN: EXIT.FORBIDDEN,
};

/** The exit status for a GraphQL error's `extensions`. */
export function exitCodeOf(extensions: { code?: unknown; reason?: unknown } | undefined): number {
  const code = typeof extensions?.code === 'string' ? extensions.code : '';
  if (code === 'FORBIDDEN' && extensions?.reason === 'RATE_LIMITED') return EXIT.RATE_LIMITED;
  return EXIT_BY_ERROR_CODE[code] ?? EXIT.ERROR;
}

/** What makes vmapi exit: the message goes to stderr, `status` is the exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** the server's error code, when the server answered with one */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT.USAGE);
}
