// The VyOS HTTP API simulator as a library: start it, point a client at `url`, arm faults, inspect state.
// It is a test double of a real router (vyos-api.md); nothing in the server may special-case it.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RouterCommand } from '../vyos/types';
import { detail, failure, gatewayError, handleRest, info, REST_ROUTES, type Reply, type RestRoute } from './api-routes';
import { renderJson, renderSetCommands } from './config-render';
import { factoryCommands } from './factory-config';
import { decodeBody, readBody } from './request-body';
import { commitFailure, INTERNAL_ERROR, nginxErrorPage } from './router-messages';
import { BOOT_FILE, SimulatedRouter } from './router-device';
import { simulatorProfile, type SimulatorProfile, type SimVersionOption } from './profiles';

export { SIMULATOR_PROFILES, PROFILE_ALIASES, PROFILE_NAMES, simulatorProfile } from './profiles';
export type { SimulatorProfile, SimProfileName, SimVersionOption } from './profiles';

export interface SimulatorOptions {
  /** 0 = a random free port (default) */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** API keys configured as `service https api keys id keyN key <k>`; default ['sim-key'] */
  keys?: string[];
  /** which router to imitate: a profile of SIMULATOR_PROFILES (profiles.ts); default 'rolling' = 'rolling-2025-06' */
  version?: SimVersionOption;
  /** how long each commit takes; default 0 */
  commitLatencyMs?: number;
  /** the length of one `confirm_time` minute; default 60000 */
  minuteMs?: number;
  /** API strict mode: deleting a missing path is a 400 */
  strict?: boolean;
  /** serve HTTPS with this key and certificate */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** `system config-management commit-confirm action` in the initial config (rolling); default 'reload' */
  commitConfirmAction?: 'reload' | 'reboot';
  /** applied on top of the factory config at start, committed and saved as /config/config.boot */
  initialCommands?: RouterCommand[];
}

export interface SimulatorFaults {
  /** the next commit (/configure or /config-file load|merge) fails with `message` (default: a NAT commit failure) */
  /** `skip`: let that many commits through first (e.g. 1 = the commit after next fails, such as an undo) */
  rejectNextCommit(message?: string, options?: { skip?: number }): void;
  /** the next `op: confirm` answers 400 and leaves the commit-confirm timer running */
  failNextConfirm(message?: string): void;
  /** the next `times` `op: confirm` requests answer 400 and leave the timer running; `skip`: answer that many normally first */
  failNextConfirms(times: number, options?: { skip?: number; message?: string }): void;
  /** hold the next `op: confirm` `ms` before the router processes it: past the window it finds the config reverted and answers "No confirm pending" */
  delayNextConfirm(ms: number): void;
  /** the next `/config-file save` (to any file) takes `ms` longer, as a real router's save of a big config does */
  delayNextSave(ms: number): void;
  /** hold one commit request (/configure batch, /config-file load|merge) `ms` before it reaches the router's lock; `skip`: that many requests pass first (1 = the one after next, e.g. an undo) */
  holdNextCommit(ms: number, options?: { skip?: number }): void;
  /** the next /configure applies and commits, then destroys the socket without replying */
  loseNextReply(): void;
  /** the next /configure also applies `commands` after the requested ones and commits both: the read-back differs */
  tamperNextCommit(commands: RouterCommand[]): void;
  /** refuse (400, whole batch discarded) every /configure batch with a command whose path contains `text`, until clear() or null */
  rejectCommandsMatching(text: string | null): void;
  /** the next `times` (default 1) API requests answer 500 without doing anything */
  /** `skip`: answer that many requests normally first */
  answer500(times?: number, options?: { skip?: number }): void;
  /**
   * nginx's 502 (or 503) for the next `times` requests (default 1): on 1.3 HTTP 200 `{"error": ...}`
   * without `success` (fact sheet §1), on 1.4+ nginx's HTML page. `afterWork`: the request runs first
   * (the API died after committing), so a write's outcome is unknown.
   */
  gatewayErrors(times?: number, options?: { status?: 502 | 503; afterWork?: boolean }): void;
  /** a CLI user ran `commit-confirm N` (research §2): a timer the API did not arm is pending; `commands` are committed under it */
  foreignConfirmPending(options: { minutes: number; commands?: RouterCommand[]; action?: 'reload' | 'reboot' }): void;
  /** a CLI commit holds vyatta's commit lock for `ms`: API commits fail with 400 "Configuration system temporarily locked ..." (research §4) */
  holdCommitLock(ms: number): void;
  /** the next /config-file load|merge reaches the session and then fails with 400 `message`; the session stays dirty (research §5) */
  failNextLoad(message?: string): void;
  /** stop listening (connection refused) / listen again on the same port */
  setUnreachable(down: boolean): Promise<void>;
  /** delay each reply by `ms` (the work is done first) for the next `times` requests; default until clear() */
  slow(ms: number, times?: number): void;
  /** disarm every fault above; an unreachable simulator stays down until setUnreachable(false) */
  clear(): void;
}

export interface Simulator {
  url: string;
  port: number;
  close(): Promise<void>;
  faults: SimulatorFaults;
  /** successful commits: /configure, /config-file load|merge, apply(); reverts are counted in revertCount */
  commitCount: number;
  /** ms the API spent answering, summed over requests from arrival to the last byte (overlaps count twice) */
  busyMs: number;
  /** the path of every API `showConfig` so far, oldest first */
  showConfigPaths: readonly string[][];
  /** commit-confirm timers that expired and reverted the config */
  revertCount: number;
  /** the commands of each /configure request that committed, oldest first */
  readonly configured: readonly RouterCommand[][];
  confirmPending(): boolean;
  /** a commit is running right now (between its start and its outcome) */
  committing(): boolean;
  /** the pending timer was armed by a CLI user (foreignConfirmPending), not by the API */
  foreignTimerPending(): boolean;
  /** API `op: confirm` requests that stopped a timer the API did not arm ("never confirmed by us" = 0) */
  foreignConfirmsStolen: number;
  /** successful `/config-file save` requests */
  saveCount: number;
  /** the text of /config/config.boot (what a reboot loads) */
  savedBoot(): string;
  /** /config/config.boot parsed, as showConfig JSON of the root (like running()) */
  savedConfig(): Record<string, unknown>;
  /** the API's shared session holds uncommitted changes (after a failed /config-file load, research §5) */
  sessionDirty(): boolean;
  /** test-only reboot: running := /config/config.boot, timers dropped, API restarted with a clean session */
  reboot(): void;
  /** test-only restart of the API process: a clean session, a leaked API lock released (research §6) */
  restartApi(): void;
  /** the profile this simulator imitates */
  profile: SimulatorProfile;
  /** the committed config tree as showConfig JSON of the root */
  running(): Record<string, unknown>;
  /** the committed config as flat `set ...` lines (`show configuration commands`) */
  commands(): string[];
  /** an operator's direct change (like a CLI commit): validated, verified and committed; throws the router's text */
  apply(commands: RouterCommand[]): void;
  setCommitLatency(ms: number): void;
}

const DEFAULT_REJECTION = commitFailure('Simulated commit failure (rejectNextCommit)');
/** The fact sheet (§4) has no text for a failed confirm; this one is the simulator's own. */
const CONFIRM_FAILURE = 'Failed to stop the commit-confirm timer';

function send(res: http.ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function route(device: SimulatedRouter, req: http.IncomingMessage): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://simulator.invalid');
  const rest = (REST_ROUTES as readonly string[]).includes(url.pathname) && device.restEnabled();
  const infoRoute = url.pathname === '/info' && device.profile.info;
  // nginx proxies only its whitelist: /info on a build without it is nginx's own HTML 404 (fact sheet §1).
  if (url.pathname === '/info' && !infoRoute) return { status: 404, contentType: 'text/html', body: nginxErrorPage(404) };
  if (!rest && !infoRoute) return detail(404, 'Not Found');
  if (req.method !== (rest ? 'POST' : 'GET')) return detail(405, 'Method Not Allowed');
  // R-late: a write blocked on a leaked lock stalls the event loop; nothing is answered (research §6, §7.9).
  if (device.apiStalled) return gatewayError(device, 504);
  const gateway = device.faults.takeGatewayError();
  if (gateway) {
    if (gateway.afterWork) await serve(device, req, url, rest);
    return gatewayError(device, gateway.status);
  }
  if (device.faults.takeInternalError()) return failure(device, 500, INTERNAL_ERROR);
  return serve(device, req, url, rest);
}

async function serve(device: SimulatedRouter, req: http.IncomingMessage, url: URL, rest: boolean): Promise<Reply> {
  if (!rest) return info(device, url.searchParams);
  const decoded = await decodeBody(req.headers['content-type'], await readBody(req), device.version);
  if (!decoded.ok) return failure(device, decoded.status, decoded.error);
  return handleRest(device, url.pathname as RestRoute, decoded.body);
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const profile = simulatorProfile(opts.version ?? 'rolling');
  const version = profile.generation;
  const host = opts.host ?? '127.0.0.1';
  const device = new SimulatedRouter({
    profile,
    commitLatencyMs: opts.commitLatencyMs ?? 0,
    minuteMs: opts.minuteMs ?? 60_000,
    initialCommands: [
      ...factoryCommands({
        version,
        keys: opts.keys ?? ['sim-key'],
        strict: opts.strict ?? false,
        commitConfirmAction: opts.commitConfirmAction ?? 'reload',
      }),
      ...(opts.initialCommands ?? []),
    ],
  });

  let busyMs = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const arrived = performance.now();
    res.once('finish', () => (busyMs += performance.now() - arrived));
    route(device, req)
      .catch((): Reply => failure(device, 500, INTERNAL_ERROR))
      .then(async (reply) => {
        const delay = device.faults.takeDelay();
        if (delay > 0) await sleep(delay);
        if (reply.lose) req.socket.destroy();
        else send(res, reply);
      })
      .catch(() => req.socket.destroy());
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);

  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const faults = device.faults;

  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    async close() {
      device.close();
      await stop();
    },
    faults: {
      rejectNextCommit: (message = DEFAULT_REJECTION, options: { skip?: number } = {}) => {
        faults.rejectCommit = message;
        faults.rejectSkip = options.skip ?? 0;
      },
      failNextConfirm: (message = CONFIRM_FAILURE) => {
        faults.failConfirm = message;
        faults.failConfirmTimes = 1;
        faults.failConfirmSkip = 0;
      },
      failNextConfirms: (times, options = {}) => {
        faults.failConfirm = options.message ?? CONFIRM_FAILURE;
        faults.failConfirmTimes = times;
        faults.failConfirmSkip = options.skip ?? 0;
      },
      delayNextConfirm: (ms) => void (faults.confirmDelayMs = ms),
      delayNextSave: (ms) => void (faults.saveDelayMs = ms),
      holdNextCommit: (ms, options = {}) => {
        faults.commitHoldMs = ms;
        faults.commitHoldSkip = options.skip ?? 0;
      },
      loseNextReply: () => void (faults.loseReply = true),
      tamperNextCommit: (commands: RouterCommand[]) => void (faults.tamper = commands),
      rejectCommandsMatching: (text: string | null) => void (faults.poison = text),
      answer500: (times = 1, options: { skip?: number } = {}) => {
        faults.internalErrors = times;
        faults.internalSkip = options.skip ?? 0;
      },
      slow: (ms, times = Number.POSITIVE_INFINITY) => {
        faults.slowMs = ms;
        faults.slowTimes = times;
      },
      gatewayErrors: (times = 1, options = {}) => {
        faults.gatewayErrors = times;
        faults.gatewayStatus = options.status ?? 502;
        faults.gatewayAfterWork = options.afterWork ?? false;
      },
      foreignConfirmPending: ({ minutes, commands = [], action }) =>
        device.armForeignTimer(minutes, commands, action ?? device.confirmAction()),
      holdCommitLock: (ms) => device.holdCommitLock(ms),
      failNextLoad: (message = DEFAULT_REJECTION) => void (faults.failLoad = message),
      clear: () => faults.clear(),
      setUnreachable: async (down) => {
        if (down) await stop();
        else if (!server.listening) await listen(port);
      },
    },
    get commitCount() {
      return device.commitCount;
    },
    get showConfigPaths() {
      return device.showConfigPaths;
    },
    get busyMs() {
      return busyMs;
    },
    get revertCount() {
      return device.revertCount;
    },
    get configured() {
      return device.configured;
    },
    confirmPending: () => device.confirmPending(),
    committing: () => device.committing(),
    foreignTimerPending: () => device.foreignTimerPending(),
    get foreignConfirmsStolen() {
      return device.foreignConfirmsStolen;
    },
    get saveCount() {
      return device.saveCount;
    },
    savedBoot: () => device.files.get(BOOT_FILE) ?? '',
    savedConfig: () => renderJson(device.bootConfig()),
    sessionDirty: () => device.sessionDirty(),
    reboot: () => device.reboot(),
    restartApi: () => device.restartApi(),
    profile,
    running: () => renderJson(device.committed()),
    commands: () => renderSetCommands(device.committed()),
    apply: (commands) => device.applyDirect(commands),
    setCommitLatency: (ms) => void (device.commitLatencyMs = ms),
  };
}
