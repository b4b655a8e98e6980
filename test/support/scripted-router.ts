// An in-memory RouterApi for unit tests of the router transaction. It holds `nat destination` as
// the commands applied so far and answers showConfig in the JSON shape of vyos-api.md §3 (through
// commandsToConfigJson, the project's own renderer of that shape). Every call is recorded in
// order, with whether the router lock was held at that moment; each call's answer can be scripted.
import { commandsToConfigJson } from '../../src/vyos/config-json.js';
import { NAT_DESTINATION_PATH, parseNatDestination, renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterApi, RouterCapabilities, RouterCommand, RouterRule } from '../../src/vyos/types.js';

type Options = { confirmMinutes?: number };
/**
 * One scripted answer: a value (returned as the reply, the call has no effect), an Error (thrown,
 * no effect) or a function (gets the call's arguments and the router; may call `commit`/`stopTimer`).
 */
type Scripted<R, A extends unknown[]> = R | Error | ((...args: [...A, ScriptedRouter]) => R | Promise<R>);

export interface RouterCall {
  method: keyof RouterApi;
  commands?: RouterCommand[];
  options?: Options;
  file?: string;
  /** the router lock was held when the call was made */
  locked: boolean;
}

const WRITES: ReadonlySet<RouterCall['method']> = new Set(['configure', 'confirm', 'saveConfigFile', 'saveBootConfig', 'discardSession', 'loadConfigFile']);

export class ScriptedRouter implements RouterApi {
  /** June 2025 code (arms the timer, then commits) unless a test says otherwise */
  caps: RouterCapabilities = { version: 'scripted', commitConfirm: true, commitConfirmBasis: 'probe', confirmOrder: 'arm-first', syntax: '1.4' };
  readonly calls: RouterCall[] = [];
  /** answers used first-in first-out; an empty queue means the default behaviour */
  readonly script = {
    showConfig: [] as Scripted<Record<string, unknown> | null, [string[]]>[],
    configure: [] as Scripted<string | null, [RouterCommand[], Options]>[],
    confirm: [] as Scripted<string, []>[],
    saveConfigFile: [] as Scripted<string, [string]>[],
    saveBootConfig: [] as Scripted<string, []>[],
  };
  /** a commit-confirm timer is armed */
  timerArmed = false;
  private applied: RouterCommand[] = [];
  /** the config the armed timer reverts to */
  private confirmed: RouterCommand[] = [];

  constructor(private readonly lockHeld: () => boolean = () => true) {}

  /** Replaces the router's NAT rules (no call is recorded). */
  setRules(rules: RouterRule[]): void {
    this.applied = rules.flatMap((r) => renderRule(r, { syntax: this.caps.syntax }));
    this.confirmed = [...this.applied];
  }

  rules(): Map<number, RouterRule> {
    return new Map(parseNatDestination(this.natDestination()).map((r) => [r.ruleNumber, r]));
  }

  /** `nat destination` as showConfig returns it (vyos-api.md §3), null when empty. */
  natDestination(): Record<string, unknown> | null {
    return commandsToConfigJson(this.applied, NAT_DESTINATION_PATH) as Record<string, unknown> | null;
  }

  /** What a successful /configure does: apply the batch, arm the timer when asked. */
  commit(commands: RouterCommand[], options: Options = {}): string | null {
    if (!this.timerArmed) this.confirmed = [...this.applied];
    this.applied.push(...commands);
    if (options.confirmMinutes) {
      this.timerArmed = true;
      return `Initialized commit-confirm; ${options.confirmMinutes} minutes to confirm before reload\n`;
    }
    return null;
  }

  /** The confirm window ends: the router reverts to the last confirmed config by itself. */
  expire(): void {
    if (!this.timerArmed) return;
    this.applied = [...this.confirmed];
    this.timerArmed = false;
  }

  /** The calls' method names, e.g. ['capabilities', 'showConfig', 'configure', ...]. */
  sequence(): string[] {
    return this.calls.map((c) => (c.method === 'configure' && c.options?.confirmMinutes ? `configure+confirm_time` : c.method));
  }

  writes(): RouterCall[] {
    return this.calls.filter((c) => WRITES.has(c.method));
  }

  private async answer<R, A extends unknown[]>(queue: Scripted<R, A>[], args: A, fallback: () => R): Promise<R> {
    const next = queue.shift();
    if (next === undefined) return fallback();
    if (next instanceof Error) throw next;
    if (typeof next === 'function') return (next as (...a: [...A, ScriptedRouter]) => R | Promise<R>)(...args, this);
    return next;
  }

  private record(call: Omit<RouterCall, 'locked'>): void {
    this.calls.push({ ...call, locked: this.lockHeld() });
  }

  async showConfig(path: string[]): Promise<unknown | null> {
    this.record({ method: 'showConfig' });
    return this.answer(this.script.showConfig, [path], () => commandsToConfigJson(this.applied, path) as Record<string, unknown> | null);
  }

  async exists(): Promise<boolean> {
    throw new Error('exists is not used by the router transaction');
  }

  async configure(commands: RouterCommand[], options: Options = {}): Promise<string | null> {
    this.record({ method: 'configure', commands, options });
    return this.answer(this.script.configure, [commands, options], () => this.commit(commands, options));
  }

  async confirm(): Promise<string> {
    this.record({ method: 'confirm' });
    return this.answer(this.script.confirm, [], () => this.stopTimer());
  }

  /** What a successful confirm does. */
  stopTimer(): string {
    if (!this.timerArmed) return 'No confirm pending';
    this.timerArmed = false;
    this.confirmed = [...this.applied];
    return 'Reload timer stopped\n';
  }

  async saveConfigFile(file: string): Promise<string> {
    this.record({ method: 'saveConfigFile', file });
    return this.answer(this.script.saveConfigFile, [file], () => '');
  }

  async saveBootConfig(): Promise<string> {
    this.record({ method: 'saveBootConfig' });
    return this.answer(this.script.saveBootConfig, [], () => '');
  }

  async discardSession(): Promise<void> {
    this.record({ method: 'discardSession' });
  }

  async loadConfigFile(file: string, options: Options = {}): Promise<string | null> {
    this.record({ method: 'loadConfigFile', file, options });
    throw new Error('loadConfigFile is not scripted');
  }

  async showCommands(): Promise<string> {
    throw new Error('showCommands is not used by the router transaction');
  }

  async info(): Promise<null> {
    return null;
  }

  async capabilities(): Promise<RouterCapabilities> {
    this.record({ method: 'capabilities' });
    return this.caps;
  }
}
