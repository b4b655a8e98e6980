// Router version -> what the API can do (vyos-api.md §2, §4, §5). Pure.
import type { NatSyntax, RouterCapabilities } from './types';

export type CommitConfirmSetting = 'auto' | 'on' | 'off';
export type SyntaxSetting = 'auto' | NatSyntax;

/**
 * Rolling builds before this date lack commit-confirm over the API: PR vyos-1x#4533 (T3955) was
 * opened 2025-05-30 and merged in June 2025 (vyos-api.md §4). A month of margin: wrongly saying
 * "no" only costs the safer plain-commit path; wrongly saying "yes" would make `confirm_time`
 * silently ignored (extra fields are dropped, §1) and the confirm fail.
 */
const ROLLING_CONFIRM_SINCE = '20250701';

/** The version text of `/show version` ("Version:          VyOS 1.3.8"), or undefined. */
export function versionFromShowVersion(text: string): string | undefined {
  return /^\s*Version:\s*VyOS\s+(\S+)/im.exec(text)?.[1];
}

/**
 * Commit-confirm over the API exists only in 2025+ rolling (the 1.5 stream): 1.3, 1.4 and 2024
 * rolling have no `confirm_time` (vyos-api.md §4). So: "rolling" (dated from July 2025, or
 * undated) or a numbered 1.5+; anything else, including "unknown", is no.
 */
export function hasCommitConfirm(version: string): boolean {
  if (/rolling/i.test(version)) {
    const stamp = /rolling-(\d{8})/i.exec(version)?.[1];
    return stamp === undefined || stamp >= ROLLING_CONFIRM_SINCE;
  }
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 5);
}

/** 1.3 has the `inbound-interface eth0` leaf; 1.4+ (and anything unknown) the `name` node (§5). */
export function natSyntaxOf(version: string): NatSyntax {
  return version.startsWith('1.3') ? '1.3' : '1.4';
}

export function deriveCapabilities(
  version: string,
  settings: { commitConfirm?: CommitConfirmSetting; syntax?: SyntaxSetting } = {},
): RouterCapabilities {
  const cc = settings.commitConfirm ?? 'auto';
  const syntax = settings.syntax ?? 'auto';
  return {
    version,
    commitConfirm: cc === 'auto' ? hasCommitConfirm(version) : cc === 'on',
    syntax: syntax === 'auto' ? natSyntaxOf(version) : syntax,
  };
}
