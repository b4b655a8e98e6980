// `npm start` with no environment at all: embedded database, built-in simulator, a usable key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/server-process.js';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'main.js');


test('with no environment the server starts on the embedded database and the simulator, and answers with the first-run key', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmapi-first-run-'));
  const port = await freePort();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, [MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    const up = await fetch(`${base}/ready`).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const key = readFileSync(path.join(dir, '.data', 'admin-api-key'), 'utf8').trim();
  assert.match(log, /BUILT-IN ROUTER SIMULATOR/);
  assert.match(log, /embedded PGlite/);
  assert.ok(!log.includes(key), 'the key is never logged');

  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: 'mutation { provisionVm(input: { name: "first", portRules: [{ internalPort: 80 }] }) { name portRules { ruleNumber externalPort } } }' }),
  });
  const body = (await res.json()) as { data: { provisionVm: { name: string; portRules: { ruleNumber: number; externalPort: number }[] } } };
  assert.equal(body.data.provisionVm.name, 'first');
  assert.equal(body.data.provisionVm.portRules[0].ruleNumber, 10000);
  const health = (await (await fetch(`${base}/health`)).json()) as { router: { detail: string } };
  assert.match(health.router.detail, /SIMULATOR/);

  // The VM page is a planned read (docs/performance.md "Planned reads"). PGlite is one session
  // behind every pooled connection, so a statement one connection prepared by name another cannot
  // prepare again: side by side, each page must still be answered by its plan, not declined.
  const page = () =>
    fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'cache-control': 'no-store' },
      body: JSON.stringify({ query: '{ vms { totalCount edges { node { name portRules { externalPort } } } } }' }),
    }).then((r) => r.json() as Promise<{ data: { vms: { totalCount: number } } }>);
  const pages = await Promise.all(Array.from({ length: 8 }, page));
  assert.ok(pages.every((p) => p.data.vms.totalCount === 1), JSON.stringify(pages[0]));
  const plans = await (await fetch(`${base}/metrics`)).text();
  assert.match(plans, /vyos_vm_api_read_plan_requests_total\{outcome="planned"\} 8\b/);
  assert.match(plans, /vyos_vm_api_read_plan_requests_total\{outcome="declined"\} 0\b/);

  // SIGTERM drains and exits cleanly
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
