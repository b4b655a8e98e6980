// The simulated device behind the HTTP API: running config, the API's shared session, commits,
// commit-confirm with its revert timer (vyos-api.md §4, research §2), saved files, reboot. No HTTP here;
// callers that write hold `lock` (the API server's lock, §6).

import type { RouterCommand } from '../vyos/types';
import { applyCommands, cloneTree, emptyTree, findNode, leafValue, type ConfigNode } from './config-tree';
import { parseBoot } from './config-boot';
import { parsedTree } from './config-lexer';
import { renderBoot } from './config-render';
import { FaultPlan } from './fault-plan';
import { verifyCandidate } from './nat-verify';
import type { SimulatorProfile } from './profiles';
import * as msg from './router-messages';
import { schemaFor, type SchemaNode, type SimVersion } from './schema';
import { WriteLock } from './write-lock';

export const BOOT_FILE = '/config/config.boot';

export type Outcome = { ok: true; data: unknown } | { ok: false; status: number; error: string; raw?: boolean };
type CommitOutcome = { ok: true; output: string } | { ok: false; status: number; error: string; raw?: boolean };

export interface DeviceOptions {
  profile: SimulatorProfile;
  commitLatencyMs: number;
  minuteMs: number;
  /** the factory config plus the user's initial commands; committed and saved as config.boot */
  initialCommands: RouterCommand[];
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}

interface PendingTimer {
  handle: NodeJS.Timeout;
  /** armed by a CLI user (the foreignConfirmPending fault), not by an API request */
  foreign: boolean;
  action: 'reload' | 'reboot';
}

export class SimulatedRouter {
  readonly profile: SimulatorProfile;
  /** the config generation (schema, NAT syntax, validators) */
  readonly version: SimVersion;
  readonly schema: SchemaNode;
  readonly lock = new WriteLock();
  readonly faults = new FaultPlan();
  readonly files = new Map<string, string>();
  commitLatencyMs: number;
  commitCount = 0;
  /** the path of every API showConfig, oldest first (tests check what a batch reads) */
  readonly showConfigPaths: string[][] = [];
  /** the commands of each /configure that committed, in order (tests compare dry-run plans with them) */
  readonly configured: RouterCommand[][] = [];
  revertCount = 0;
  saveCount = 0;
  /** API `op: confirm` requests that stopped a timer the API did not arm */
  foreignConfirmsStolen = 0;
  /**
   * research §6: on 1.4+ a /configure that builds `Config()` from an unparseable config raises before its
   * `try`, so the API's lock is never released; every later locked write hangs until the API restarts.
   */
  apiLockLeaked = false;
  /** R-late: a write met the leaked lock on the event loop; the whole API process stalls (research §7.9) */
  apiStalled = false;
  private readonly minuteMs: number;
  private running: ConfigNode;
  /** archive revision 0: what a `reload` revert goes back to; updated by plain commits and by confirm */
  private archive: ConfigNode;
  /** the working config of a commit in flight; /retrieve reads it without the lock */
  private inFlight: ConfigNode | null = null;
  /**
   * The API's one shared session when it holds uncommitted changes: a failed /config-file load does not
   * discard (fact sheet /config-file, research §5). Kept as the whole candidate tree.
   */
  private dirty: ConfigNode | null = null;
  private timer: PendingTimer | null = null;
  /** vyatta's commit lock held by a CLI commit until this time (the holdCommitLock fault) */
  private commitLockUntil = 0;
  private closed = false;

  constructor(options: DeviceOptions) {
    this.profile = options.profile;
    this.version = options.profile.generation;
    this.schema = schemaFor(this.version);
    this.commitLatencyMs = options.commitLatencyMs;
    this.minuteMs = options.minuteMs;
    const initial = applyCommands(emptyTree(), this.schema, options.initialCommands, { strict: false });
    if (!initial.ok) throw new Error(`initial configuration rejected:${initial.error}`);
    const verdict = verifyCandidate(initial.tree, this.version);
    if (verdict.failure) throw new Error(`initial configuration rejected: ${verdict.failure}`);
    this.running = this.archive = initial.tree;
    this.files.set(BOOT_FILE, renderBoot(this.running));
  }

  /** A commit is running right now (test observation: lets a test act mid-commit without guessing a delay). */
  committing(): boolean {
    return this.inFlight !== null;
  }

  /** What /retrieve sees: the shared session's working config, uncommitted changes included. */
  view(): ConfigNode {
    return this.inFlight ?? this.dirty ?? this.running;
  }

  committed(): ConfigNode {
    return this.running;
  }

  sessionDirty(): boolean {
    return this.dirty !== null;
  }

  /** `session.discard()`: what /configure does on any failure in its handler (research §5). */
  discard(): void {
    this.dirty = null;
  }

  /**
   * `Config()` as the API builds it: the running and working config parsed by vyos1x-config, escapes
   * interpreted; null when either does not parse (research §6).
   */
  parsedView(): ConfigNode | null {
    if (this.parsed(this.running) === null) return null;
    return this.parsed(this.view());
  }

  /** Trees are never mutated once built (every change makes a new one), so the parse is cached per tree. */
  private readonly parseCache = new WeakMap<ConfigNode, ConfigNode | null>();
  private parsed(tree: ConfigNode): ConfigNode | null {
    let result = this.parseCache.get(tree);
    if (result === undefined) this.parseCache.set(tree, (result = parsedTree(tree)));
    return result;
  }

  configParses(): boolean {
    return this.parsedView() !== null;
  }

  confirmPending(): boolean {
    return this.timer !== null;
  }

  foreignTimerPending(): boolean {
    return this.timer?.foreign === true;
  }

  commitLockHeld(): boolean {
    return Date.now() < this.commitLockUntil;
  }

  holdCommitLock(ms: number): void {
    this.commitLockUntil = Date.now() + ms;
  }

  apiKeys(): string[] {
    const ids = findNode(this.running, ['service', 'https', 'api', 'keys', 'id']);
    return [...(ids?.children.values() ?? [])].map((entry) => leafValue(entry, 'key')).filter((k): k is string => !!k);
  }

  /** Rolling serves REST only while `service https api rest` is configured (T6736). */
  restEnabled(): boolean {
    return this.version !== 'rolling' || findNode(this.running, ['service', 'https', 'api', 'rest']) !== undefined;
  }

  strict(): boolean {
    const path = this.version === 'rolling' ? ['service', 'https', 'api', 'rest', 'strict'] : ['service', 'https', 'api', 'strict'];
    return findNode(this.running, path) !== undefined;
  }

  hostName(): string {
    return leafValue(this.running, 'system', 'host-name') ?? 'vyos';
  }

  /**
   * Rolling: the `commit-confirm action` node; no node set: reload, as the code (not the XML default)
   * appears to do (§4). 1.3/1.4 have no such node and a (CLI) commit-confirm always reboots (§4).
   */
  confirmAction(): 'reload' | 'reboot' {
    if (this.version !== 'rolling') return 'reboot';
    const action = leafValue(this.running, 'system', 'config-management', 'commit-confirm', 'action');
    return action === 'reboot' ? 'reboot' : 'reload';
  }

  /** One /configure request: every command in the shared session, then one commit. Caller holds the lock. */
  async configure(commands: RouterCommand[], confirmMinutes: number): Promise<CommitOutcome> {
    const failed = (status: number, error: string, raw = false): CommitOutcome => {
      this.discard(); // /configure discards the session on any failure (fact sheet §2, research §5)
      return { ok: false, status, error, raw };
    };
    const poison = this.faults.poison;
    const poisoned = poison === null ? undefined : commands.find((c) => c.path.join(' ').includes(poison));
    if (poisoned) return failed(400, `\nSet failed: simulated refusal of [${poisoned.path.join(' ')}]\n`);
    // A dirty session (after a failed load) is committed together with these commands (research §5).
    const candidate = applyCommands(this.dirty ?? this.running, this.schema, commands, { strict: this.strict() });
    if (!candidate.ok) return failed(400, candidate.error);
    // tamperNextCommit: the router commits something other than what was asked.
    const tamper = this.faults.takeTamper();
    const tampered = tamper ? applyCommands(candidate.tree, this.schema, tamper, { strict: false }) : null;
    const tree = tampered?.ok ? tampered.tree : candidate.tree;
    // research §6: on 1.4+ `Config()` is built after the sets, inside the try: an unparseable value set by
    // this request is an enveloped 500 and a discard.
    if (this.version !== '1.3' && parsedTree(tree) === null) return failed(500, msg.INTERNAL_ERROR);
    const commits = this.commitCount;
    const outcome = await this.commit(tree, confirmMinutes, false);
    if (this.commitCount > commits) this.configured.push(commands.map((c) => ({ op: c.op, path: [...c.path] })));
    return outcome;
  }

  /** config-file load (replace) or merge (on top of the working config). Caller holds the lock. */
  async load(text: string, confirmMinutes: number, merge: boolean): Promise<CommitOutcome> {
    let commands: RouterCommand[];
    try {
      commands = parseBoot(text, this.schema);
    } catch (e) {
      // The load script fails before it touches the session; nothing is discarded either (research §5).
      return { ok: false, status: 400, error: `Failed to parse configuration: ${(e as Error).message}\n` };
    }
    const base = merge ? (this.dirty ?? this.running) : emptyTree();
    const candidate = applyCommands(base, this.schema, commands, { strict: false });
    if (!candidate.ok) return { ok: false, status: 400, error: candidate.error };
    const loadFailure = this.faults.takeFailLoad();
    if (loadFailure !== null) {
      // failNextLoad: the load reached the session, then failed; config_file_op does not discard (research §5).
      this.dirty = candidate.tree;
      return { ok: false, status: 400, error: loadFailure };
    }
    return this.commit(candidate.tree, confirmMinutes, true);
  }

  /**
   * One commit of `candidate`, with commit-confirm when `confirmMinutes` > 0 in the profile's order
   * (research §2). `keepOnFailure`: a /config-file load leaves the session dirty; /configure discards.
   */
  private async commit(candidate: ConfigNode, confirmMinutes: number, keepOnFailure: boolean): Promise<CommitOutcome> {
    const failed = (error: string): CommitOutcome => {
      this.dirty = keepOnFailure ? candidate : null;
      return { ok: false, status: 400, error };
    };
    let output = '';
    const confirming = confirmMinutes > 0 && this.profile.commitConfirm;
    const order = this.profile.confirmOrder;
    if (confirming && order === 'arm-then-commit') {
      // R-jun: config-mgmt arms the timer first; "Another confirm is pending" stops the request before the
      // commit, and a timer armed here stays armed if the commit then fails (research §2).
      if (this.timer) return failed(msg.ANOTHER_CONFIRM_PENDING);
      this.startTimer(confirmMinutes, false, this.confirmAction());
      output += msg.confirmInitialized(confirmMinutes, this.confirmAction());
    }
    this.inFlight = candidate;
    try {
      await sleep(this.commitLatencyMs);
      // vyatta's commit lock is non-blocking: a CLI commit in progress fails this one at once (research §4).
      if (this.commitLockHeld()) return failed(msg.COMMIT_LOCKED);
      const rejected = this.faults.takeRejectCommit();
      if (rejected !== null) return failed(rejected);
      const verdict = verifyCandidate(candidate, this.version);
      if (verdict.failure) return failed(verdict.failure);
      this.running = candidate;
      this.dirty = null;
      // A commit-confirm commit is only staged (IN_COMMIT_CONFIRM); every other commit is archived as revision 0.
      if (!confirming) this.archive = candidate;
      this.commitCount++;
      const commitOutput = verdict.warnings.map((w) => `${w}\n`).join('');
      if (confirming && order === 'commit-then-arm') {
        // R-late: commit, then arm. With a timer already pending the change IS committed and the API
        // still answers 400 (discard is then a no-op); the other timer will revert it (research §2).
        if (this.timer) return { ok: false, status: 400, error: msg.ANOTHER_CONFIRM_PENDING };
        this.startTimer(confirmMinutes, false, this.confirmAction());
        return { ok: true, output: `${commitOutput}\n${msg.confirmInitialized(confirmMinutes, this.confirmAction())}` };
      }
      return { ok: true, output: output + commitOutput };
    } finally {
      this.inFlight = null;
    }
  }

  /** `op: confirm`: stops whatever timer is pending, a CLI user's too. Caller holds the lock. */
  confirm(): Outcome {
    const failure = this.faults.takeFailConfirm();
    if (failure !== null) return { ok: false, status: 400, error: failure };
    if (!this.timer) return { ok: true, data: msg.NO_CONFIRM_PENDING };
    if (this.timer.foreign) this.foreignConfirmsStolen++;
    const action = this.timer.action;
    clearTimeout(this.timer.handle);
    this.timer = null;
    this.archive = this.running;
    return { ok: true, data: msg.timerStopped(action) };
  }

  /** `/config-file save`: the running config, unconfirmed changes included (research §3). */
  save(file: string): Outcome {
    this.files.set(file, renderBoot(this.running));
    this.saveCount++;
    return { ok: true, data: this.version === '1.3' ? msg.savedMessage13(file) : '' };
  }

  /** The saved /config/config.boot as a tree (what a reboot loads). */
  bootConfig(): ConfigNode {
    const boot = this.files.get(BOOT_FILE) ?? '';
    const loaded = applyCommands(emptyTree(), this.schema, parseBoot(boot, this.schema), { strict: false });
    if (!loaded.ok) throw new Error(`config.boot does not load:${loaded.error}`);
    return loaded.tree;
  }

  /**
   * A reboot: the running config is what /config/config.boot holds (committed but unsaved changes are
   * gone, fact sheet /config-file), pending timers are dropped, the API restarts with a clean session.
   * Archive revision 0 is set to the booted config (the simulator's choice; the archive is not modelled further).
   */
  reboot(): void {
    this.clearTimer();
    this.running = this.archive = this.bootConfig();
    this.commitLockUntil = 0;
    this.restartApi();
  }

  /** The API process restarts: a new session (clean), the leaked lock gone; timers and config stay. */
  restartApi(): void {
    this.dirty = null;
    this.inFlight = null;
    this.apiLockLeaked = false;
    this.apiStalled = false;
  }

  /** An operator's commit from the CLI: validated and verified, no faults, no lock wait. Throws the router's text. */
  applyDirect(commands: RouterCommand[]): void {
    if (this.lock.busy || this.commitLockHeld()) throw new Error(msg.COMMIT_LOCKED);
    const candidate = applyCommands(this.running, this.schema, commands, { strict: this.strict() });
    if (!candidate.ok) throw new Error(candidate.error);
    const verdict = verifyCandidate(candidate.tree, this.version);
    if (verdict.failure) throw new Error(verdict.failure);
    this.running = this.archive = candidate.tree;
    this.commitCount++;
  }

  /**
   * A CLI user's `commit-confirm N` (the foreignConfirmPending fault): `commands` (if any) are committed
   * and only staged, and a timer the API did not arm is pending; unconfirmed, it reverts to the last
   * confirmed config (reload) or reboots into config.boot (research §2, fact sheet §4).
   */
  armForeignTimer(minutes: number, commands: RouterCommand[], action: 'reload' | 'reboot'): void {
    if (this.timer) throw new Error(msg.ANOTHER_CONFIRM_PENDING);
    if (commands.length > 0) {
      if (this.lock.busy || this.commitLockHeld()) throw new Error(msg.COMMIT_LOCKED);
      const candidate = applyCommands(this.running, this.schema, commands, { strict: this.strict() });
      if (!candidate.ok) throw new Error(candidate.error);
      const verdict = verifyCandidate(candidate.tree, this.version);
      if (verdict.failure) throw new Error(verdict.failure);
      this.running = candidate.tree;
      this.commitCount++;
    }
    this.startTimer(minutes, true, action);
  }

  private startTimer(minutes: number, foreign: boolean, action: 'reload' | 'reboot'): void {
    const handle = setTimeout(() => {
      this.timer = null;
      if (action === 'reboot') {
        if (this.closed) return;
        this.reboot();
        this.revertCount++;
      } else void this.lock.run(() => this.revert());
    }, minutes * this.minuteMs);
    handle.unref();
    this.timer = { handle, foreign, action };
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
  }

  /** The confirm never came, action reload: `revert_soft` loads archive revision 0 and commits it. */
  private async revert(): Promise<void> {
    if (this.closed) return;
    const target = cloneTree(this.archive);
    this.inFlight = target;
    try {
      await sleep(this.commitLatencyMs);
    } finally {
      this.inFlight = null;
    }
    if (this.closed) return;
    this.running = this.archive = target;
    this.revertCount++;
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
  }
}
