// The router layer's shared vocabulary. The server, the drift code and the simulator all speak it;
// nothing here does I/O.

/** One `/configure` command. A value, when there is one, is the last element of `path`. */
export interface RouterCommand {
  op: 'set' | 'delete' | 'comment';
  path: string[];
}

/** NAT syntax generation: 1.3 has `inbound-interface eth0`, 1.4+ `inbound-interface name eth0`. */
export type NatSyntax = '1.3' | '1.4';

/**
 * One `nat destination rule` as the router holds it. Every field is a string exactly as VyOS
 * returns it (absent = not configured), so a parse of what we rendered compares equal.
 */
export interface RouterRule {
  ruleNumber: number;
  description?: string;
  protocol?: string;
  /** `destination port` */
  externalPort?: string;
  /** `translation port` */
  internalPort?: string;
  /** `translation address` */
  translationAddress?: string;
  /** `source address` */
  sourceAddress?: string;
  /** `inbound-interface` (1.3) or `inbound-interface name` (1.4+) */
  inboundInterface?: string;
  /** the valueless `disable` node is present */
  disabled: boolean;
}

/** One differing field between what should be on the router and what is. */
export interface FieldDrift {
  field: string;
  expected: string | null;
  actual: string | null;
}

/** What the router can do, learned once from `/info` (or configured). */
export interface RouterCapabilities {
  /** e.g. "1.5-rolling-202507010000", "1.4", "1.3", or "unknown" */
  version: string;
  /** commit-confirm over the API (`confirm_time`): rolling 2025+ only (vyos-api.md §4) */
  commitConfirm: boolean;
  syntax: NatSyntax;
}

/** Why a router call failed, as the server must act on it (vyos-api.md §1). */
export enum RouterErrorKind {
  /** connection refused / DNS failure: the request never reached the router, nothing changed */
  UNREACHABLE = 'UNREACHABLE',
  /** a read timed out */
  TIMEOUT = 'TIMEOUT',
  /** a write was sent but its reply was lost (timeout, reset): it may or may not have applied */
  OUTCOME_UNKNOWN = 'OUTCOME_UNKNOWN',
  /** HTTP 401: wrong or missing key */
  UNAUTHORIZED = 'UNAUTHORIZED',
  /** HTTP 400/422 with `success:false`: validation or commit failed; batch discarded */
  REJECTED = 'REJECTED',
  /** HTTP 5xx */
  SERVER_ERROR = 'SERVER_ERROR',
  /** a reply that is not the VyOS envelope */
  PROTOCOL = 'PROTOCOL',
}

export class RouterError extends Error {
  constructor(
    readonly kind: RouterErrorKind,
    message: string,
    readonly details: { status?: number; routerMessage?: string; endpoint?: string } = {},
  ) {
    super(message);
    this.name = 'RouterError';
  }
}

/** The router as the server sees it: one method per API operation it needs. */
export interface RouterApi {
  /** `/retrieve showConfig`; `null` when the path is empty ("Configuration under specified path is empty"). */
  showConfig(path: string[]): Promise<unknown | null>;
  /** `/retrieve exists` */
  exists(path: string[]): Promise<boolean>;
  /** One `/configure` batch, one commit. `confirmMinutes` adds `confirm_time`. Returns `data` (warnings) or null. */
  configure(commands: RouterCommand[], options?: { confirmMinutes?: number }): Promise<string | null>;
  /** `{"op":"confirm"}` on `/configure`. Returns the router's text ("Reload timer stopped" / "No confirm pending"). */
  confirm(): Promise<string>;
  /** `/config-file save` to `file`. */
  saveConfigFile(file: string): Promise<string>;
  /** `/config-file load` of `file` (commits it), optionally with commit-confirm. */
  loadConfigFile(file: string, options?: { confirmMinutes?: number }): Promise<string | null>;
  /** `/show configuration commands`: the flat `set` commands. */
  showCommands(): Promise<string>;
  /** `GET /info`; null when the router has no such endpoint (1.3, 1.4, rolling before 2025). */
  info(): Promise<{ version: string; hostname: string } | null>;
  /** Capabilities, detected once (and cached) from `info()` and the overrides. */
  capabilities(): Promise<RouterCapabilities>;
}
