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
/** config-mgmt prints its message and exits 1; the API returns the output (research §2). */
export const ANOTHER_CONFIRM_PENDING = 'Another confirm is pending\n';
/** config-mgmt `confirm` with no timer: printed, exit 0, so HTTP 200 success (research §2, §7.4). */
export const NO_CONFIRM_PENDING = 'No confirm pending\n';
/** vyatta-cfg commit-algorithm.cpp: `getCommitLock()` is a non-blocking lockf (research §4). */
export const COMMIT_LOCKED = 'Configuration system temporarily locked due to another commit in progress\n';
/** 1.3 `vyatta-save-config.pl` (research §3; the `Done` tail is unconfirmed); 1.4+ print nothing. */
export function savedMessage13(file: string): string {
  return `Saving configuration to '${file}'...\nDone\n`;
}
/** Starlette's plain 500 when an exception escapes the handler's try (research §6). */
export const RAW_INTERNAL_ERROR = 'Internal Server Error';
/**
 * 1.3's nginx answers 501/502/503 with HTTP 200 and this JSON (`error_page 501 502 503 =200 @50*_json`,
 * vyos-1x equuleus data/templates/https/nginx.default.tmpl; fact sheet §1). With an API configured
 * (`api_somewhere`), the location returns this text [DERIVED].
 */
export const NGINX13_GATEWAY_JSON =
  '{"error": "service https api unavailable at this proxy address: set service https api-restrict virtual-host"}';
/** nginx's own error page (1.4+ do not remap 50x). */
export function nginxErrorPage(status: number): string {
  const title = `${status} ${status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Temporarily Unavailable' : status === 504 ? 'Gateway Time-out' : status === 404 ? 'Not Found' : 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}
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
