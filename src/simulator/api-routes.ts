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

/** VyOS's `error()`; the rolling server html-escapes the text, 1.3 and 1.4 do not. */
export function failure(device: SimulatedRouter, status: number, text: string): Reply {
  const error = device.version === 'rolling' ? htmlEscape(text) : text;
  return { status, contentType: HTML, body: pyJsonDumps({ success: false, error, data: null }) };
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
async function confirm(device: SimulatedRouter): Promise<Reply> {
  await sleep(device.faults.takeConfirmDelay());
  return toReply(device, await device.lock.run(async () => device.confirm()));
}

/**
 * Runs one commit request under the write lock, after the holdNextCommit fault: a held request has
 * not reached the API's lock or session yet (§6: writers queue; /retrieve takes no lock), so reads
 * meanwhile see the committed config, and other writers that arrive now commit first.
 */
async function commitRequest<T>(device: SimulatedRouter, task: () => Promise<T>): Promise<T> {
  await sleep(device.faults.takeCommitHold());
  return device.lock.run(task);
}

export async function handleRest(device: SimulatedRouter, route: RestRoute, decoded: unknown): Promise<Reply> {
  const reader = new FieldReader(device.version);
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
  const config = device.view();
  switch (op) {
    case 'showConfig': {
      if (format === 'json' || format === 'raw') {
        const shown = format === 'json' ? showConfigJson(config, device.schema, path) : showConfigRaw(config, device.schema, path);
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
    if (op === 'confirm' && device.version === 'rolling') return [{ op, path: [] }];
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

async function configure(device: SimulatedRouter, reader: FieldReader, body: Body): Promise<Reply> {
  const key = reader.str(body, 'key', ['body']);
  const requested = readCommands(device, reader, body);
  // confirm_time exists only in the 2025+ rolling model; elsewhere it is an ignored extra field (§1).
  const confirmMinutes = device.version === 'rolling' ? (reader.optInt(body, 'confirm_time', ['body']) ?? 0) : 0;
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  if (device.version === 'rolling' && requested[0]?.op === 'confirm' && !('commands' in body)) return confirm(device);
  const bad = requested.find((c) => c.op !== 'set' && c.op !== 'delete' && c.op !== 'comment');
  if (bad) return invalidOperation(device, bad.op);
  const commands = requested as RouterCommand[];
  const outcome = await commitRequest(device, () => device.configure(commands, confirmMinutes));
  const lose = device.faults.takeLoseReply();
  if (!outcome.ok) return { ...failure(device, outcome.status, outcome.error), lose };
  let data: unknown = device.version === 'rolling' ? outcome.output : null;
  if (device.version !== '1.3' && touchesHttps(commands)) data = msg.HTTPS_BACKGROUND;
  return { ...success(data), lose };
}

async function configFile(device: SimulatedRouter, reader: FieldReader, body: Body): Promise<Reply> {
  const rolling = device.version === 'rolling';
  const key = reader.str(body, 'key', ['body']);
  const op = reader.str(body, 'op', ['body']);
  const file = reader.optStr(body, 'file', ['body']);
  const text = rolling ? reader.optStr(body, 'string', ['body']) : undefined;
  const confirmMinutes = rolling ? (reader.optInt(body, 'confirm_time', ['body']) ?? 0) : 0;
  if (!authorized(device, key)) return failure(device, 401, msg.KEY_REQUIRED);
  if (op === 'save') return device.lock.run(async () => toReply(device, device.save(file ?? BOOT_FILE)));
  if (op === 'confirm' && rolling) return confirm(device);
  if (op === 'load' || (op === 'merge' && rolling)) {
    let config = text;
    if (config === undefined) {
      if (file === undefined) return failure(device, 400, 'Missing required field "file"');
      config = device.files.get(file);
      if (config === undefined) return failure(device, 400, `Configuration file '${file}' does not exist\n`);
    }
    const loaded = config;
    const outcome = await commitRequest(device, () => device.load(loaded, confirmMinutes, op === 'merge'));
    if (!outcome.ok) return failure(device, outcome.status, outcome.error);
    return success(device.version === '1.4' ? null : outcome.output);
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
  if (words === 'version') return success(showVersion(device.version));
  return failure(device, 400, `\n  Invalid command: show [${path.join(' ')}]\n\n`);
}

/** The simulated image per version: what `show version` and `/info` report. */
export const SIMULATED_VERSION: Record<SimulatedRouter['version'], string> = {
  '1.3': '1.3.8',
  '1.4': '1.4.0',
  rolling: '1.5-rolling-202507010000',
};

function showVersion(version: SimulatedRouter['version']): string {
  return [
    `Version:          VyOS ${SIMULATED_VERSION[version]}`,
    `Release train:    ${version === '1.3' ? 'equuleus' : version === '1.4' ? 'sagitta' : 'current'}`,
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
      return failure(device, 400, pydanticError(device.version, 'extra_forbidden', ['query', name], value));
    }
    const lower = value.toLowerCase();
    if (BOOLEAN_TRUE.includes(lower)) flags[name] = true;
    else if (BOOLEAN_FALSE.includes(lower)) flags[name] = false;
    else return failure(device, 400, pydanticError(device.version, 'bool_parsing', ['query', name], value));
  }
  return success({
    version: flags.version ? SIMULATED_VERSION[device.version] : '',
    hostname: flags.hostname ? device.hostName() : '',
    banner: 'Welcome to VyOS (simulated)',
  });
}
