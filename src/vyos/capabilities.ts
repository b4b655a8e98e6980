// What the router's API can do, decided from what the router does (vyos-api.md §2, §4, §5;
// docs/vyos-research.md §1-2: vyos-1x src/services/api/rest/models.py 1362e6a8 and routers.py
// 0514484a / 1736807a, against src/services/vyos-http-api-server of 1.3.8 and 1.4.0).
// Pure: the client makes the calls, these read the replies.
import type { ConfirmOrder, NatSyntax, RouterCapabilities } from './types';

export type CommitConfirmSetting = 'auto' | 'on' | 'off';
export type SyntaxSetting = 'auto' | NatSyntax;

/**
 * The probe: `/config-file` with an op no version has and a `confirm_time` that is not an integer.
 * API models with commit-confirm (PR vyos-1x#4533, June 2025) declare `confirm_time: StrictInt` on
 * the `/config-file` model, so pydantic refuses the body before the handler runs, naming the
 * field; older models ignore unknown fields and the handler refuses the op before it touches the
 * session, the lock or any timer. Nothing changes either way, and nothing is confirmed.
 */
export const COMMIT_CONFIRM_PROBE = { endpoint: '/config-file', body: { op: 'vyos-vm-api-probe', confirm_time: 'probe' } } as const;

/** The probe's 400 text -> commit-confirm yes / no, or null when the reply decides nothing. */
export function commitConfirmFromProbe(routerMessage: string): boolean | null {
  if (/confirm_time/.test(routerMessage)) return true;
  if (/is not a valid operation/i.test(routerMessage)) return false;
  return null;
}

/**
 * Which order the router runs commit-confirm in, from the reply to one of our own commit-confirm
 * commits: June 2025 code arms the timer first and its text comes first; later 2025 code commits
 * first and appends `"\n" + "Initialized commit-confirm; ..."` to the commit output.
 */
export function confirmOrderFromReply(data: string | null): ConfirmOrder {
  if (!data || !/Initialized commit-confirm/.test(data)) return 'unknown';
  return data.startsWith('Initialized commit-confirm') ? 'arm-first' : 'commit-first';
}

/** The version text of `/show version` ("Version:          VyOS 1.3.8"), or undefined. */
export function versionFromShowVersion(text: string): string | undefined {
  return /^\s*Version:\s*VyOS\s+(\S+)/im.exec(text)?.[1];
}

/** 1.3 has the `inbound-interface eth0` leaf; 1.4+ (and anything unknown) the `name` node (§5). */
export function natSyntaxOf(version: string): NatSyntax {
  return version.startsWith('1.3') ? '1.3' : '1.4';
}

/**
 * Capabilities from the detected facts and the overrides. `probed` is the probe's verdict (null:
 * it decided nothing); without a verdict the safe path is taken: plain commits, inverse-command undo.
 */
export function deriveCapabilities(
  facts: { version: string; probed: boolean | null; order?: ConfirmOrder },
  settings: { commitConfirm?: CommitConfirmSetting; syntax?: SyntaxSetting } = {},
): RouterCapabilities {
  const cc = settings.commitConfirm ?? 'auto';
  const syntax = settings.syntax ?? 'auto';
  const decided = cc !== 'auto' ? 'setting' : facts.probed === null ? 'unsure' : 'probe';
  return {
    version: facts.version,
    commitConfirm: cc === 'auto' ? facts.probed === true : cc === 'on',
    commitConfirmBasis: decided,
    confirmOrder: facts.order ?? 'unknown',
    syntax: syntax === 'auto' ? natSyntaxOf(facts.version) : syntax,
  };
}
