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
  /** `destination address`: only our hairpin twins carry one (the public address, VYOS_PUBLIC_ADDRESS) */
  destinationAddress?: string;
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
export type DriftFieldName = 'protocol' | 'externalPort' | 'destinationAddress' | 'internalPort' | 'translationAddress' | 'sourceAddress' | 'description' | 'enabled' | 'inboundInterface';

export interface FieldDrift {
  field: DriftFieldName;
  expected: string | null;
  actual: string | null;
}

/** The order a router runs commit-confirm in (vyos-api.md §4): June 2025 arms first, later code commits first. */
export type ConfirmOrder = 'arm-first' | 'commit-first' | 'unknown';

/** What the router can do: detected from what it does (or configured). */
export interface RouterCapabilities {
  /** the image name, e.g. "1.3.8", "1.4.0", "2025.11.20-0020-rolling", or "unknown" */
  version: string;
  /** commit-confirm over the API (`confirm_time`, `op: confirm`): 2025 rolling code from June on (vyos-api.md §4) */
  commitConfirm: boolean;
  /** how `commitConfirm` was decided: the probe's answer, VYOS_COMMIT_CONFIRM, or unsure (safe path, probed again) */
  commitConfirmBasis: 'probe' | 'setting' | 'unsure';
  /** learned from the reply to our first commit-confirm commit */
  confirmOrder: ConfirmOrder;
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
  /**
   * HTTP 400 that says the router is busy, not that the change is wrong: a commit-confirm is
   * pending (`Another confirm is pending`) or another commit holds vyatta's commit lock (§4, §6)
   */
  BUSY = 'BUSY',
  /** HTTP 5xx */
  SERVER_ERROR = 'SERVER_ERROR',
  /** a reply that is not the VyOS envelope */
  PROTOCOL = 'PROTOCOL',
}

export class RouterError extends Error {
  constructor(
    readonly kind: RouterErrorKind,
    message: string,
    /** timedOut: our own timeout cut a write off; the router may still be working on it (§6) */
    readonly details: { status?: number; routerMessage?: string; endpoint?: string; timedOut?: boolean } = {},
  ) {
    super(message);
    this.name = 'RouterError';
  }
}

/** The router as the server sees it: one method per API operation it needs. */
export interface RouterApi {
  /**
   * `/retrieve showConfig`; `null` when the path is empty ("Configuration under specified path is
   * empty"). Read-only: a large reply equal to the previous one for the path is the same value.
   */
  showConfig(path: string[]): Promise<unknown | null>;
  /** `/retrieve exists` */
  exists(path: string[]): Promise<boolean>;
  /** One `/configure` batch, one commit. `confirmMinutes` adds `confirm_time`. Returns `data` (warnings) or null. */
  configure(commands: RouterCommand[], options?: { confirmMinutes?: number }): Promise<string | null>;
  /** `{"op":"confirm"}` on `/configure`. Returns the router's text ("Reload timer stopped" / "No confirm pending"). */
  confirm(): Promise<string>;
  /** `/config-file save` to `file`. */
  saveConfigFile(file: string): Promise<string>;
  /** `/config-file save` to the boot config (`/config/config.boot`), so the running config survives a reboot */
  saveBootConfig(): Promise<string>;
  /** Discards the API's one shared session (left dirty by a failed `/config-file load`, vyos-api.md §2). */
  discardSession(): Promise<void>;
  /** `/config-file load` of `file` (commits it), optionally with commit-confirm. */
  loadConfigFile(file: string, options?: { confirmMinutes?: number }): Promise<string | null>;
  /** `/show configuration commands`: the flat `set` commands. */
  showCommands(): Promise<string>;
  /** `GET /info`; null when the router has no such endpoint (1.3, 1.4, rolling before 2025). */
  info(): Promise<{ version: string; hostname: string } | null>;
  /** Capabilities, detected once (and cached) from `info()` and the overrides. */
  capabilities(): Promise<RouterCapabilities>;
}
