// The texts the router prints, in one place. Shapes follow vyos-api.md §1, §3, §5; where the fact sheet
// marks exact whitespace as unconfirmed, these are the simulator's best reading and documented as such.

/** vyatta-cfg output of a failed `set`/`delete`: indented lines, then "Set failed"/"Delete failed". */
export function cliFailure(lines: string[], verb: 'Set' | 'Delete' | 'Comment'): string {
  return '\n' + [...lines, `${verb} failed`].map((l) => `  ${l}`).join('\n') + '\n';
}

export function pathNotValid(path: string[]): string {
  return `Configuration path: [${path.join(' ')}] is not valid`;
}

export function pathRequiresValue(path: string[]): string {
  return `Configuration path: [${path.join(' ')}] requires a value`;
}

export function deleteMissing(path: string[]): string {
  return `Cannot delete [${path.join(' ')}]: path/value does not exist`;
}

/** Under vyos-configd a failing config script's error comes back as "\n<text>\n\n[[nat]] failed\nCommit failed\n" (§5). */
export function commitFailure(configErrorText: string, component = 'nat'): string {
  return `\n${configErrorText}\n\n[[${component}]] failed\nCommit failed\n`;
}

export const SHOW_EMPTY = 'Configuration under specified path is empty\n';
export const SHOW_INVALID = 'Specified configuration path is not valid\n';
export const ANOTHER_CONFIRM_PENDING = 'Another confirm is pending';
export const NO_CONFIRM_PENDING = 'No confirm pending';
export const COMMIT_LOCKED = 'Configuration system temporarily locked due to another commit in progress';
export const INTERNAL_ERROR = 'An internal error occured. Check the logs for details.';
export const KEY_REQUIRED = 'Valid API key is required';
export const DATA_REQUIRED = 'Non-empty data field is required';
export const HTTPS_BACKGROUND =
  'Requested HTTP API server configuration change; commit will be called in the background';

export function confirmInitialized(minutes: number, action: 'reload' | 'reboot'): string {
  return `Initialized commit-confirm; ${minutes} minutes to confirm before ${action}\n`;
}

export function timerStopped(action: 'reload' | 'reboot'): string {
  return `${action === 'reload' ? 'Reload' : 'Reboot'} timer stopped\n`;
}
