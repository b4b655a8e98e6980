// The simulated device behind the HTTP API: running config, the API's shared session, commits,
// commit-confirm with its revert timer (vyos-api.md §4), saved files. No HTTP here; callers that write
// hold `lock` (the API server's lock, §6).

import type { RouterCommand } from '../vyos/types';
import { applyCommands, cloneTree, emptyTree, findNode, leafValue, type ConfigNode } from './config-tree';
import { parseBoot } from './config-boot';
import { renderBoot } from './config-render';
import { FaultPlan } from './fault-plan';
import { verifyNat } from './nat-verify';
import * as msg from './router-messages';
import { schemaFor, type SchemaNode, type SimVersion } from './schema';
import { WriteLock } from './write-lock';

export const BOOT_FILE = '/config/config.boot';

export type Outcome = { ok: true; data: unknown } | { ok: false; status: number; error: string };
type CommitOutcome = { ok: true; output: string } | { ok: false; status: number; error: string };

export interface DeviceOptions {
  version: SimVersion;
  commitLatencyMs: number;
  minuteMs: number;
  /** the factory config plus the user's initial commands; committed and saved as config.boot */
  initialCommands: RouterCommand[];
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}

export class SimulatedRouter {
  readonly version: SimVersion;
  readonly schema: SchemaNode;
  readonly lock = new WriteLock();
  readonly faults = new FaultPlan();
  readonly files = new Map<string, string>();
  commitLatencyMs: number;
  commitCount = 0;
  revertCount = 0;
  private readonly minuteMs: number;
  private running: ConfigNode;
  /** archive revision 0: what a `reload` revert goes back to; updated by plain commits and by confirm */
  private archive: ConfigNode;
  /** the API session's working config while a write is in flight; /retrieve reads it without the lock */
  private session: ConfigNode | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: DeviceOptions) {
    this.version = options.version;
    this.schema = schemaFor(options.version);
    this.commitLatencyMs = options.commitLatencyMs;
    this.minuteMs = options.minuteMs;
    const initial = applyCommands(emptyTree(), this.schema, options.initialCommands, { strict: false });
    if (!initial.ok) throw new Error(`initial configuration rejected:${initial.error}`);
    const verdict = verifyNat(initial.tree, this.version);
    if (verdict.error) throw new Error(`initial configuration rejected: ${verdict.error}`);
    this.running = this.archive = initial.tree;
    this.files.set(BOOT_FILE, renderBoot(this.running));
  }

  /** What /retrieve sees: the shared session's working config, uncommitted changes included. */
  view(): ConfigNode {
    return this.session ?? this.running;
  }

  committed(): ConfigNode {
    return this.running;
  }

  confirmPending(): boolean {
    return this.timer !== null;
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

  /** No node set: the simulator reverts by reload, as the code (not the XML default) appears to do (§4). */
  confirmAction(): 'reload' | 'reboot' {
    const action = leafValue(this.running, 'system', 'config-management', 'commit-confirm', 'action');
    return action === 'reboot' ? 'reboot' : 'reload';
  }

  /** One /configure request: every command in one session, then one commit. Caller holds the lock. */
  async configure(commands: RouterCommand[], confirmMinutes: number): Promise<CommitOutcome> {
    const poison = this.faults.poison;
    const poisoned = poison === null ? undefined : commands.find((c) => c.path.join(' ').includes(poison));
    if (poisoned) return { ok: false, status: 400, error: `\nSet failed: simulated refusal of [${poisoned.path.join(' ')}]\n` };
    const candidate = applyCommands(this.running, this.schema, commands, { strict: this.strict() });
    if (!candidate.ok) return { ok: false, status: 400, error: candidate.error };
    // tamperNextCommit: the router commits something other than what was asked.
    const tamper = this.faults.takeTamper();
    const tampered = tamper ? applyCommands(candidate.tree, this.schema, tamper, { strict: false }) : null;
    return this.commit(tampered?.ok ? tampered.tree : candidate.tree, confirmMinutes);
  }

  /** config-file load (replace) or merge (on top of the running config). Caller holds the lock. */
  async load(text: string, confirmMinutes: number, merge: boolean): Promise<CommitOutcome> {
    let commands: RouterCommand[];
    try {
      commands = parseBoot(text, this.schema);
    } catch (e) {
      return { ok: false, status: 400, error: `Failed to parse configuration: ${(e as Error).message}\n` };
    }
    const base = merge ? this.running : emptyTree();
    const candidate = applyCommands(base, this.schema, commands, { strict: false });
    if (!candidate.ok) return { ok: false, status: 400, error: candidate.error };
    return this.commit(candidate.tree, confirmMinutes);
  }

  private async commit(candidate: ConfigNode, confirmMinutes: number): Promise<CommitOutcome> {
    let output = '';
    const confirming = confirmMinutes > 0;
    if (confirming) {
      if (this.timer) return { ok: false, status: 400, error: msg.ANOTHER_CONFIRM_PENDING };
      // The timer starts before the commit and stays armed if the commit then fails (§4).
      this.startTimer(confirmMinutes);
      output += msg.confirmInitialized(confirmMinutes, this.confirmAction());
    }
    this.session = candidate;
    try {
      await sleep(this.commitLatencyMs);
      const rejected = this.faults.takeRejectCommit();
      if (rejected !== null) return { ok: false, status: 400, error: rejected };
      const verdict = verifyNat(candidate, this.version);
      if (verdict.error) return { ok: false, status: 400, error: msg.commitFailure(verdict.error) };
      this.running = candidate;
      // A commit-confirm commit is only staged; every other commit is archived as revision 0.
      if (!confirming) this.archive = candidate;
      this.commitCount++;
      return { ok: true, output: output + verdict.warnings.map((w) => `${w}\n`).join('') };
    } finally {
      this.session = null;
    }
  }

  /** `op: confirm`. Caller holds the lock. */
  confirm(): Outcome {
    const failure = this.faults.takeFailConfirm();
    if (failure !== null) return { ok: false, status: 400, error: failure };
    if (!this.timer) return { ok: true, data: msg.NO_CONFIRM_PENDING };
    clearTimeout(this.timer);
    this.timer = null;
    this.archive = this.running;
    return { ok: true, data: msg.timerStopped(this.confirmAction()) };
  }

  save(file: string): Outcome {
    this.files.set(file, renderBoot(this.running));
    return { ok: true, data: `Saving configuration to '${file}'...\nDone\n` };
  }

  /** An operator's commit from the CLI: validated and verified, no faults, no lock wait. Throws the router's text. */
  applyDirect(commands: RouterCommand[]): void {
    if (this.lock.busy) throw new Error(msg.COMMIT_LOCKED);
    const candidate = applyCommands(this.running, this.schema, commands, { strict: this.strict() });
    if (!candidate.ok) throw new Error(candidate.error);
    const verdict = verifyNat(candidate.tree, this.version);
    if (verdict.error) throw new Error(msg.commitFailure(verdict.error));
    this.running = this.archive = candidate.tree;
    this.commitCount++;
  }

  private startTimer(minutes: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.lock.run(() => this.revert());
    }, minutes * this.minuteMs);
    this.timer.unref();
  }

  /** The confirm never came: `reload` goes back to archive revision 0, `reboot` to the saved config.boot. */
  private async revert(): Promise<void> {
    if (this.closed) return;
    let target = cloneTree(this.archive);
    if (this.confirmAction() === 'reboot') {
      const boot = this.files.get(BOOT_FILE) ?? '';
      const loaded = applyCommands(emptyTree(), this.schema, parseBoot(boot, this.schema), { strict: false });
      if (loaded.ok) target = loaded.tree;
    }
    this.session = target;
    try {
      await sleep(this.commitLatencyMs);
    } finally {
      this.session = null;
    }
    if (this.closed) return;
    this.running = this.archive = target;
    this.revertCount++;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
