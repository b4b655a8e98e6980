// The server as its own OS process (node dist/src/main.js), for replica and crash tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  log(): string;
  gql<T = any>(query: string, variables: Record<string, unknown>, key: string): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `logFile`: also append the process's output (JSON log lines) to this file; `nodeArgs`: node's own flags (e.g. `--cpu-prof`). */
export async function startServerProcess(env: Record<string, string>, opts: { logFile?: string; nodeArgs?: string[] } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), MAIN], {
    // load tests send many requests with one key from one address: no rate limits unless asked
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SYNC_INTERVAL_SECONDS: '0', ROUTER_PROBE_SECONDS: '0', RATE_LIMIT_WRITES_PER_MINUTE: '0', RATE_LIMIT_READS_PER_MINUTE: '0', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const file = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  child.stdout!.on('data', (d) => ((log += d), file?.write(d)));
  child.stderr!.on('data', (d) => ((log += d), file?.write(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // 'close' comes after the last output (unlike 'exit')
  if (file) child.once('close', () => file.end());
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) break;
    if (i > 120 || child.exitCode !== null) throw new Error(`server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    child,
    log: () => log,
    async gql(query, variables, key) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as never;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
