// The REST endpoints of the VyOS API (vyos-api.md §1, §2, §4): request models, auth, and what each
// operation does to the simulated device. Replies are the VyOS envelope, built here.

import type { RouterCommand } from '../vyos/types';
import { leafValues, pathExists } from './config-tree';
import { renderBoot, renderSetCommands, showConfigJson, showConfigRaw } from './config-render';
import * as msg from './router-messages';
import { htmlEscape, pyJsonDumps, pyRepr } from './python-text';
import { BodyError, FieldReader, pydanticError } from './request-models';
import { BOOT_FILE, type SimulatedRouter } from './router-device';

export interface Reply {
  status: number;
  body: string;
  contentType: string;
  /** destroy the socket instead of replying (the loseNextReply fault) */
  lose?: boolean;
}

export const REST_ROUTES = ['/retrieve', '/configure', '/config-file', '/show'] as const;
export type RestRoute = (typeof REST_ROUTES)[number];

const HTML = 'text/html; charset=utf-8';

/** VyOS's `success()`: an HTMLResponse whose body is JSON. */
export function success(data: unknown): Reply {
  return { status: 200, contentType: HTML, body: pyJsonDumps({ success: true, data, error: null }) };
}

/** VyOS's `error()`; rolling (S15a/S15b) html-escapes the text, 1.3 and 1.4 do not (fact sheet §1). */
export function failure(device: SimulatedRouter, status: number, text: string): Reply {
  const error = device.profile.htmlEscape ? htmlEscape(text) : text;
  return { status, contentType: HTML, body: pyJsonDumps({ success: false, error, data: null }) };
}

/** Starlette's own 500 when an exception escapes a handler's `try`: not the VyOS envelope (research §6). */
export function rawInternalError(): Reply {
  return { status: 500, contentType: 'text/plain; charset=utf-8', body: msg.RAW_INTERNAL_ERROR };
}

/**
 * nginx in front of the API: 502/503 (gatewayErrors fault) and 504 (a request stuck on a lock that is
 * never released, research §6). 1.3's nginx maps 501/502/503 to HTTP 200 with `{"error": ...}` and no
 * `success` field (fact sheet §1; equuleus nginx.default.tmpl); 504 is not remapped.
 */
export function gatewayError(device: SimulatedRouter, status: 502 | 503 | 504): Reply {
  if (device.version === '1.3' && status !== 504) return { status: 200, contentType: 'application/json', body: msg.NGINX13_GATEWAY_JSON };
  return { status, contentType: 'text/html', body: msg.nginxErrorPage(status) };
}

/** FastAPI's own replies (404, 405), which are not the VyOS envelope. */
export function detail(status: number, text: string): Reply {
  return { status, contentType: 'application/json', body: JSON.stringify({ detail: text }) };
}

function invalidOperation(device: SimulatedRouter, op: string): Reply {
  // 1.3 formats with double quotes, later versions with single quotes.
  const text = device.version === '1.3' ? `"${op}" is not a valid operation` : `'${op}' is not a valid operation`;
  return failure(device, 400, text);
}

type Body = Record<string, unknown>;

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}

/**
 * `op: confirm`, after the delayNextConfirm fault: a confirm that arrives late (queued behind other
 * writers on the blocking lock, §6, or a slow link) finds the timer already fired and the router
 * reverted, and is answered "No confirm pending" (§4), a success envelope like any other confirm.
 */
async function confirm(device: SimulatedRouter, onConfigure: boolean): Promise<Reply> {
  await sleep(device.faults.takeConfirmDelay());
  // /configure builds Config() and discards the session when the confirm fails; /config-file does neither.
  return lockedHandler(
    device,
    async () => {
      const outcome = device.confirm();
      if (!outcome.ok && onConfigure) device.discard();
      return toReply(device, outcome);
    },
    onConfigure,
  );
}

/**
 * A handler that takes the API's global lock and builds `Config()` (research §6): while the lock is
 * leaked every such request hangs (nginx answers 504 after 600 s; the simulator answers at once), and on
 * R-late the blocking acquire on the event loop stalls the whole API. If the config does not parse, 1.4+
 * leak the lock (the exception escapes before the `try`) and the reply is a raw 500; 1.3 builds
 * `Config()` before taking the lock, so it answers the raw 500 without the hang.
 */
async function lockedHandler(device: SimulatedRouter, task: () => Promise<Reply>, buildsConfig = true): Promise<Reply> {
  if (device.apiLockLeaked) {
    if (device.profile.asyncHandlers) device.apiStalled = true;
    return gatewayError(device, 504);
  }
  if (buildsConfig && !device.configParses()) {
    if (device.version !== '1.3') device.apiLockLeaked = true;
    return rawInternalError();
  }
  return device.lock.run(task);
}

/**
 * Runs one commit request under the write lock, after the holdNextCommit fault: a held request has
 * not reached the API's lock or session yet (§6: writers queue; /retrieve takes no lock), so reads
 * meanwhile see the committed config, and other writers that arrive now commit first.
 */
async function commitRequest(device: SimulatedRouter, task: () => Promise<Reply>, buildsConfig: boolean): Promise<Reply> {
  // Ghost commit (fact sheet §6): the hold runs to the end and the commit happens even if the client
  // has given up and closed the connection meanwhile; the reply then goes nowhere.
  await sleep(device.faults.takeCommitHold());
  return lockedHandler(device, task, buildsConfig);
}

export async function handleRest(device: SimulatedRouter, route: RestRoute, decoded: unknown): Promise<Reply> {
  const reader = new FieldReader(device.profile.pydantic);
  try {
    const body = reader.object(decoded, ['body']);
    switch (route) {
      case '/retrieve':
        return retrieve(device, reader, body);
      case '/configure':
        return await configure(device, reader, body);
      case '/config-file':
        return await configFile(device, reader, body);
      case '/show':
        return show(device, reader, body);
    }
  } catch (e) {
    if (e instanceof BodyError) return failure(device, 400, e.message);
    throw e;
  }
}

/** Auth runs after the body model is validated, as a FastAPI handler does it. */
function authorized(device: SimulatedRouter, key: string): boolean {
  return device.apiKeys().includes(key);
}

function retrieve(device: SimulatedRouter, reader: FieldReader, body: Body): Reply {
  const key = reader.str(body, 'key', ['body']);
  const op = reader.str(body, 'op', ['body']);
  const path = reader.strList(body, 'path', ['body']);
  const format = reader.optStr(body, 'configFormat', ['body']) ?? 'json';
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  // retrieve_op builds Config() (the whole running and working config, parsed) before its try: a value
  // the parser rejects makes every /retrieve a raw 500, `raw` and returnValues included (research §6).
  const config = device.parsedView();
  if (config === null) return rawInternalError();
  switch (op) {
    case 'showConfig': {
      device.showConfigPaths.push(path);
      if (format === 'json' || format === 'raw') {
        // `raw` is cli-shell-api's text, printed without re-parsing; json goes through ConfigTree.
        const shown = format === 'json' ? showConfigJson(config, device.schema, path) : showConfigRaw(device.view(), device.schema, path);
        return shown.ok ? success(shown.data) : failure(device, 400, shown.error);
      }
      if (format === 'json_ast') return failure(device, 400, "'json_ast' is a valid config format the simulator does not model");
      return failure(device, 400, device.version === '1.3' ? `"${format}" is not a valid config format` : `'${format}' is not a valid config format`);
    }
    case 'exists':
      return success(pathExists(config, device.schema, path));
    case 'returnValues':
      return success(leafValues(config, device.schema, path));
    case 'returnValue':
      return success(leafValues(config, device.schema, path)[0] ?? null);
    default:
      return invalidOperation(device, op);
  }
}

/** The commands of a /configure body; a batch entry is checked by hand ("Malformed command"), as the server does. */
function readCommands(device: SimulatedRouter, reader: FieldReader, body: Body): { op: string; path: string[] }[] {
  const toPath = (path: string[], value: string | undefined): string[] =>
    value === undefined || value === '' ? path : [...path, value]; // `value` is sugar; "" is no value
  if (!('commands' in body)) {
    const op = reader.str(body, 'op', ['body']);
    const path = reader.strList(body, 'path', ['body'], true);
    return [{ op, path: toPath(path, reader.optStr(body, 'value', ['body'])) }];
  }
  const list = body.commands;
  if (!Array.isArray(list)) reader.fail('list_type', ['body', 'commands'], list);
  return list.map((entry: unknown, i) => {
    const loc = ['body', 'commands', i];
    const command = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Body) : undefined;
    if (!command || !('op' in command)) throw new BodyError(`Malformed command ${pyRepr(entry)}: missing 'op' field`);
    if (!('path' in command)) throw new BodyError(`Malformed command ${pyRepr(entry)}: missing 'path' field`);
    const op = reader.strValue(command.op, [...loc, 'op']);
    const path = reader.strList(command, 'path', loc);
    return { op, path: toPath(path, reader.optStr(command, 'value', loc)) };
  });
}

function touchesHttps(commands: RouterCommand[]): boolean {
  return commands.some((c) => c.path[0] === 'service' && (c.path[1] === undefined || c.path[1] === 'https'));
}

/**
 * On commit-confirm profiles the /configure body is `Union[ConfigureModel, ConfigureListModel,
 * ConfirmModel]` and ConfirmModel is only `op: StrictStr` (extra fields ignored): a single-command body
 * that fails ConfigureModel for any reason (no path, an empty path, `confirm_time: "x"`) validates as
 * ConfirmModel, and the handler answers `'<op>' is not a valid operation` unless op is `confirm`
 * (research §1). Returns the op when the body is a ConfirmModel.
 */
function confirmModelOp(device: SimulatedRouter, reader: FieldReader, body: Body): string | null {
  if (!device.profile.commitConfirm || 'commands' in body) return null;
  const op = reader.str(body, 'op', ['body']);
  try {
    readCommands(device, reader, body);
  } catch (e) {
    if (e instanceof BodyError) return op;
    throw e;
  }
  return reader.isStrictIntOrAbsent(body, 'confirm_time') ? null : op;
}

async function configure(device: SimulatedRouter, reader: FieldReader, body: Body): Promise<Reply> {
  const key = reader.str(body, 'key', ['body']);
  const confirmOp = confirmModelOp(device, reader, body);
  const requested = confirmOp === null ? readCommands(device, reader, body) : [];
  // confirm_time exists only in the commit-confirm models (StrictInt); elsewhere it is an ignored extra field (§1).
  const confirmMinutes = device.profile.commitConfirm && confirmOp === null ? (reader.optStrictInt(body, 'confirm_time', ['body']) ?? 0) : 0;
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  if (confirmOp === 'confirm') return confirm(device, true);
  if (confirmOp !== null) {
    // The handler takes the lock, builds Config(), raises and discards the session (research §1, §5).
    return lockedHandler(device, async () => {
      device.discard();
      return invalidOperation(device, confirmOp);
    });
  }
  const bad = requested.find((c) => c.op !== 'set' && c.op !== 'delete' && c.op !== 'comment');
  if (bad) {
    // The op loop raises before any set; the handler discards the shared session (research §5): the
    // cheap clean-up after a failed /config-file load, e.g. `{"op":"vvmapi-discard","path":["nat"]}`.
    return lockedHandler(device, async () => {
      device.discard();
      return invalidOperation(device, bad.op);
    });
  }
  const commands = requested as RouterCommand[];
  return commitRequest(
    device,
    async () => {
      const outcome = await device.configure(commands, confirmMinutes);
      const lose = device.faults.takeLoseReply();
      if (!outcome.ok) return { ...failure(device, outcome.status, outcome.error), lose };
      let data: unknown = device.version === 'rolling' ? outcome.output : null;
      if (device.version !== '1.3' && touchesHttps(commands)) data = msg.HTTPS_BACKGROUND;
      return { ...success(data), lose };
    },
    true,
  );
}

async function configFile(device: SimulatedRouter, reader: FieldReader, body: Body): Promise<Reply> {
  const { commitConfirm, configFileMerge, configFileLock } = device.profile;
  const key = reader.str(body, 'key', ['body']);
  const op = reader.str(body, 'op', ['body']);
  const file = reader.optStr(body, 'file', ['body']);
  const text = configFileMerge ? reader.optStr(body, 'string', ['body']) : undefined;
  // ConfigFileModel has `confirm_time: StrictInt = 0` on commit-confirm profiles: a bad value is a 400
  // naming it before the handler runs (research §1, the commit-confirm probe); elsewhere it is ignored.
  const confirmMinutes = commitConfirm ? (reader.optStrictInt(body, 'confirm_time', ['body']) ?? 0) : 0;
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  // R-jun/R-late take the global lock around every op, save included; 1.3, 1.4 and 2024 code take none (research §3).
  const locked = (task: () => Promise<Reply>): Promise<Reply> => (configFileLock ? lockedHandler(device, task, false) : task());
  if (op === 'save') {
    return locked(async () => {
      await sleep(device.faults.takeSaveDelay());
      return toReply(device, device.save(file ?? BOOT_FILE));
    });
  }
  if (op === 'confirm' && commitConfirm) return confirm(device, false);
  if (op === 'load' || (op === 'merge' && configFileMerge)) {
    let config = text;
    if (config === undefined) {
      if (file === undefined) return failure(device, 400, 'Missing required field "file"');
      config = device.files.get(file);
      if (config === undefined) return failure(device, 400, `Configuration file '${file}' does not exist\n`);
    }
    const loaded = config;
    const run = async (): Promise<Reply> => {
      const outcome = await device.load(loaded, confirmMinutes, op === 'merge');
      // No session.discard() here: a failed load leaves the session dirty (research §5).
      if (!outcome.ok) return failure(device, outcome.status, outcome.error);
      return success(device.version === '1.4' ? null : outcome.output);
    };
    if (configFileLock) return commitRequest(device, run, false);
    await sleep(device.faults.takeCommitHold());
    return device.lock.run(run); // the simulator still serialises loads with other writers
  }
  return invalidOperation(device, op);
}

function toReply(device: SimulatedRouter, outcome: { ok: true; data: unknown } | { ok: false; status: number; error: string }): Reply {
  return outcome.ok ? success(outcome.data) : failure(device, outcome.status, outcome.error);
}

function show(device: SimulatedRouter, reader: FieldReader, body: Body): Reply {
  const key = reader.str(body, 'key', ['body']);
  const op = reader.str(body, 'op', ['body']);
  const path = reader.strList(body, 'path', ['body']);
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  if (op !== 'show') return invalidOperation(device, op);
  // Op-mode `show configuration` reads the committed config.
  const words = path.join(' ');
  if (words === 'configuration commands') return success(renderSetCommands(device.committed()).join('\n') + '\n');
  if (words === 'configuration') return success(renderBoot(device.committed()));
  // Op-mode `show version`: how a client learns a 1.3/1.4 router's version (no /info there).
  if (words === 'version') return success(showVersion(device));
  return failure(device, 400, `\n  Invalid command: show [${path.join(' ')}]\n\n`);
}

/** Op-mode `show version`: the profile's image name and release train. */
function showVersion(device: SimulatedRouter): string {
  return [
    `Version:          VyOS ${device.profile.image}`,
    `Release train:    ${device.profile.releaseTrain}`,
    'Built by:         vyos-vm-api simulator',
    'Architecture:     x86_64',
    '',
  ].join('\n');
}

const BOOLEAN_TRUE = ['1', 'true', 't', 'yes', 'y', 'on'];
const BOOLEAN_FALSE = ['0', 'false', 'f', 'no', 'n', 'off'];

/** `GET /info?version=&hostname=` (rolling 2025+, no key): unknown parameters are forbidden. */
export function info(device: SimulatedRouter, query: URLSearchParams): Reply {
  const flags = { version: true, hostname: true };
  for (const [name, value] of query) {
    if (name !== 'version' && name !== 'hostname') {
      return failure(device, 400, pydanticError(device.profile.pydantic, 'extra_forbidden', ['query', name], value));
    }
    const lower = value.toLowerCase();
    if (BOOLEAN_TRUE.includes(lower)) flags[name] = true;
    else if (BOOLEAN_FALSE.includes(lower)) flags[name] = false;
    else return failure(device, 400, pydanticError(device.profile.pydantic, 'bool_parsing', ['query', name], value));
  }
  return success({
    version: flags.version ? device.profile.image : '',
    hostname: flags.hostname ? device.hostName() : '',
    banner: 'Welcome to VyOS (simulated)',
  });
}
