// `npm start` (scripts/start.js): builds only when dist/ is missing or older than a source, runs the
// server in its own process, and starts a built tree that has no TypeScript (a production install).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { projectRoot } from '../../src/database/orm.js';
import { createTestDatabase } from '../support/database.js';
import { freePort } from '../support/server-process.js';

const START = path.join(projectRoot, 'scripts', 'start.js');

// A stand-in for TypeScript: "compiles" by writing a dist/src/main.js that says which build it is
// and which process runs it, so the tests see what start.js decides without a real 60 s tsc run.
const FAKE_TSC = `
const fs = require('node:fs');
if (process.env.FAKE_TSC_FAIL) { fs.mkdirSync('dist/src', { recursive: true }); fs.writeFileSync('dist/src/main.js', ''); console.error('error TS1005'); process.exit(2); }
const n = (fs.existsSync('builds') ? Number(fs.readFileSync('builds', 'utf8')) : 0) + 1;
fs.writeFileSync('builds', String(n));
fs.mkdirSync('dist/src', { recursive: true });
fs.writeFileSync('dist/src/main.js', "console.log('server build " + n + " in pid ' + process.pid);");
`;

/** The fake tree's sources; a change to any one rebuilds. */
const SOURCES = ['src/main.ts', 'migrations/Migration1_x.ts', 'tsconfig.json', 'package.json', 'package-lock.json'];

function fakeTree(withTypescript: boolean): string {
  const root = mkdtempSync(path.join(tmpdir(), 'vmapi-start-'));
  mkdirSync(path.join(root, 'scripts'));
  copyFileSync(START, path.join(root, 'scripts', 'start.js'));
  copyFileSync(path.join(projectRoot, 'scripts', 'build.js'), path.join(root, 'scripts', 'build.js'));
  mkdirSync(path.join(root, 'src'));
  mkdirSync(path.join(root, 'migrations'));
  writeFileSync(path.join(root, 'src', 'main.ts'), 'export {};\n');
  writeFileSync(path.join(root, 'migrations', 'Migration1_x.ts'), 'export {};\n');
  writeFileSync(path.join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(path.join(root, 'package.json'), '{ "name": "fake", "type": "commonjs" }\n');
  writeFileSync(path.join(root, 'package-lock.json'), '{ "name": "fake", "lockfileVersion": 3 }\n');
  if (withTypescript) {
    mkdirSync(path.join(root, 'node_modules', 'typescript', 'bin'), { recursive: true });
    writeFileSync(path.join(root, 'node_modules', 'typescript', 'package.json'), '{ "name": "typescript", "version": "0.0.0" }\n');
    writeFileSync(path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), FAKE_TSC);
  }
  // every source an hour old, so "newer" below is unambiguous whatever the clock's resolution
  const hourAgo = Date.now() / 1000 - 3600;
  for (const f of [...SOURCES, 'scripts/build.js']) utimesSync(path.join(root, f), hourAgo, hourAgo);
  return root;
}

function start(root: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'start.js')], { cwd: root, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr, pid: r.pid };
}

/** Makes `file` (relative to root) newer than the build. */
function touch(root: string, file: string): void {
  const later = Date.now() / 1000 + 60;
  utimesSync(path.join(root, file), later, later);
}

describe('scripts/start.js decides when to build', () => {
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

  test('a fresh clone builds once; an up-to-date dist starts without building, in the same process', () => {
    const root = fakeTree(true);
    roots.push(root);
    const first = start(root);
    assert.equal(first.status, 0, first.err);
    assert.match(first.err, /^start: building \(dist\/src\/main\.js is missing\)$/m);
    assert.equal(first.out.trim(), `server build 1 in pid ${first.pid}`);

    const second = start(root);
    assert.equal(second.status, 0, second.err);
    assert.equal(second.err, '');
    assert.equal(second.out.trim(), `server build 1 in pid ${second.pid}`);
  });

  for (const source of [...SOURCES, 'scripts/build.js']) {
    test(`a changed ${source} rebuilds, into a clean dist/`, () => {
      const root = fakeTree(true);
      roots.push(root);
      assert.equal(start(root).status, 0);
      writeFileSync(path.join(root, 'dist', 'left-over.js'), '');
      touch(root, source);
      const r = start(root);
      assert.equal(r.status, 0, r.err);
      assert.match(r.err, new RegExp(`^start: building \\(${source.replace(/[./]/g, '\\$&')} is newer than dist/src/main\\.js\\)$`, 'm'));
      assert.equal(r.out.trim(), `server build 2 in pid ${r.pid}`);
      assert.ok(!existsSync(path.join(root, 'dist', 'left-over.js')), 'outputs of deleted sources do not survive a build');
    });
  }

  test('a failed build starts nothing and leaves no dist/ to be mistaken for current', () => {
    const root = fakeTree(true);
    roots.push(root);
    const r = start(root, { FAKE_TSC_FAIL: '1' });
    assert.equal(r.status, 1);
    assert.match(r.err, /the build did not finish/);
    assert.equal(r.out, '');
    assert.ok(!existsSync(path.join(root, 'dist')));
  });

  test('without TypeScript (npm prune --omit=dev) a built tree starts; with no build it says what to do', () => {
    const root = fakeTree(true);
    roots.push(root);
    assert.equal(start(root).status, 0);
    rmSync(path.join(root, 'node_modules'), { recursive: true });

    const current = start(root);
    assert.equal(current.status, 0, current.err);
    assert.equal(current.err, '');
    assert.equal(current.out.trim(), `server build 1 in pid ${current.pid}`);

    touch(root, 'src/main.ts');
    const stale = start(root);
    assert.equal(stale.status, 0, stale.err);
    assert.match(stale.err, /src\/main\.ts is newer than dist\/src\/main\.js, but TypeScript is not installed: starting the existing build/);
    assert.equal(stale.out.trim(), `server build 1 in pid ${stale.pid}`);

    rmSync(path.join(root, 'dist'), { recursive: true });
    const none = start(root);
    assert.equal(none.status, 1);
    assert.match(none.err, /dist\/src\/main\.js is missing and TypeScript is not installed: run `npm ci`/);
  });
});

test('`npm start` on the built tree starts the server without building, and SIGTERM stops it cleanly', async (t) => {
  // A stale tree would be rebuilt (dist/ removed) under the running tests: refuse instead.
  const check = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(START)}).staleReason(${JSON.stringify(projectRoot)}) ?? '')`], { encoding: 'utf8' });
  assert.equal(check.stdout, '', `dist/ is stale (${check.stdout}): run npm run build before this test`);
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vmapi-start-data-'));
  const port = await freePort();
  const child = spawn('npm', ['start'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ADMIN_API_KEY: 'start-script-test-admin-key', SYNC_INTERVAL_SECONDS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await fetch(`${base}/ready`).then((r) => r.ok, () => false)); i++) {
    assert.ok(i < 240 && child.exitCode === null, `the server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.doesNotMatch(log, /start: building/, 'dist/ was current: no build');
  // The server runs in the node process npm started (scripts/start.js, exec'd by the npm script's
  // shell so npm's signals reach it), not in a child of it.
  const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const [server, ...others] = children(child.pid!);
  assert.deepEqual(others, [], 'npm runs one process');
  assert.match(readFileSync(`/proc/${server}/cmdline`, 'utf8'), /^node\0scripts\/start\.js\0$/);
  assert.deepEqual(children(server), [], 'the server is not a child of scripts/start.js');

  child.kill('SIGTERM');
  assert.equal(await exited, 0, log);
  assert.equal(await fetch(`${base}/ready`).then(() => 'answered', () => 'closed'), 'closed', 'nothing holds the port after npm start exits');
});
