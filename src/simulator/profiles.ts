// The VyOS generations the simulator imitates, in one list the server's tests can iterate (issue 14,
// "The simulator must model every generation"). Each profile names a real image and the behaviours that
// differ between API generations; `generation` picks the config syntax (schema, NAT verify) and is what
// the rest of the simulator calls `SimVersion`.
// Sources: vyos-api.md (the fact sheet, §n) and research/vyos-notes.md (research §n), which corrects it.

import type { PydanticFlavour } from './request-models';
import type { SimVersion } from './schema';

export type SimProfileName =
  | '1.3'
  | '1.4'
  | 'rolling-2025-03'
  | 'stream-2025-q1'
  | 'rolling-2025-06'
  | 'rolling-2025-late';

/** What `version` (library) and `--version` (CLI) accept: a profile name or an old alias. */
export type SimVersionOption = SimProfileName | 'rolling';

export interface SimulatorProfile {
  name: SimProfileName;
  /** the image name: `/show version` prints "Version: VyOS <image>", `/info` reports it as `version` */
  image: string;
  /** config syntax and validators: 1.3 (equuleus), 1.4 (sagitta) or the rolling/1.5 tree */
  generation: SimVersion;
  /** `show version` "Release train" */
  releaseTrain: 'equuleus' | 'sagitta' | 'current' | 'circinus';
  /** GET /info exists (PR #4380, March 2025, fact sheet §2); otherwise nginx answers an HTML 404 */
  info: boolean;
  /** `confirm_time` and `op: confirm` over the API (PR #4533, June 2025, fact sheet §4, research §1) */
  commitConfirm: boolean;
  /**
   * research §2: R-jun (0514484a) arms the timer and then commits; R-late (1736807a) commits and then
   * arms. null when the API has no commit-confirm.
   */
  confirmOrder: 'arm-then-commit' | 'commit-then-arm' | null;
  /** error text passed through `html.escape(msg, quote=False)` (fact sheet §1, S15a/S15b) */
  htmlEscape: boolean;
  /**
   * /config-file knows `merge`, the `string` field and `confirm_time` (models.py M-post 1362e6a8); the
   * models before PR #4533 (M-pre b239e5e9) have only `op` and `file` (research, sources)
   */
  configFileMerge: boolean;
  /** /config-file takes the global API lock, save included (research §3: R-jun, R-late) */
  configFileLock: boolean;
  /**
   * The async handlers of R-late take the blocking threading.Lock on the event loop (fact sheet §6,
   * research §7.9): a write that meets a lock that is never released stalls the whole API process.
   */
  asyncHandlers: boolean;
  /**
   * The pydantic error wording the simulator prints. Research §7.10 (S-TOOLS) says 1.3.6+ ships pydantic
   * 2.5.3 and 1.4.0 pydantic 2.7.0, i.e. v2 wording; the simulator still prints v1 for 1.3/1.4 (its
   * behaviour before the profiles), flagged as a known difference.
   */
  pydantic: PydanticFlavour;
}

const base = { info: false, configFileMerge: false, commitConfirm: false, confirmOrder: null, htmlEscape: false, configFileLock: false, asyncHandlers: false } as const;

export const SIMULATOR_PROFILES: readonly SimulatorProfile[] = Object.freeze([
  { ...base, name: '1.3', image: '1.3.8', generation: '1.3', releaseTrain: 'equuleus', pydantic: 'v1' },
  { ...base, name: '1.4', image: '1.4.0', generation: '1.4', releaseTrain: 'sagitta', pydantic: 'v1' },
  // Nightlies are named YYYY.MM.DD-hhmm-rolling since about 2025-03-18 (fact sheet §4): /info, no commit-confirm.
  { ...base, name: 'rolling-2025-03', image: '2025.04.04-0018-rolling', generation: 'rolling', releaseTrain: 'current', info: true, htmlEscape: true, pydantic: 'v2' },
  { ...base, name: 'stream-2025-q1', image: '1.5-stream-2025-Q1', generation: 'rolling', releaseTrain: 'circinus', info: true, htmlEscape: true, pydantic: 'v2' },
  {
    ...base, name: 'rolling-2025-06', image: '2025.06.20-0021-rolling', generation: 'rolling', releaseTrain: 'current',
    info: true, htmlEscape: true, commitConfirm: true, configFileMerge: true, confirmOrder: 'arm-then-commit', configFileLock: true, pydantic: 'v2',
  },
  {
    ...base, name: 'rolling-2025-late', image: '2025.11.20-0020-rolling', generation: 'rolling', releaseTrain: 'current',
    info: true, htmlEscape: true, commitConfirm: true, configFileMerge: true, confirmOrder: 'commit-then-arm', configFileLock: true, asyncHandlers: true, pydantic: 'v2',
  },
] satisfies SimulatorProfile[]);

/** Old `version` values that keep working. */
export const PROFILE_ALIASES: Readonly<Record<string, SimProfileName>> = Object.freeze({ rolling: 'rolling-2025-06' });

export const PROFILE_NAMES: readonly string[] = [...SIMULATOR_PROFILES.map((p) => p.name), ...Object.keys(PROFILE_ALIASES)];

/** The profile for a profile name or alias; throws on anything else. */
export function simulatorProfile(name: string): SimulatorProfile {
  const resolved = PROFILE_ALIASES[name] ?? name;
  const profile = SIMULATOR_PROFILES.find((p) => p.name === resolved);
  if (!profile) throw new Error(`unknown VyOS version "${name}" (expected one of ${PROFILE_NAMES.join(', ')})`);
  return profile;
}
