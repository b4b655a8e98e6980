// Only the runner (and the router client that implements the calls) writes to the router: every
// change to it goes through the stage table, its lock, its journal and its undo (issue 13).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/database/orm.js';

const WRITES = /\.(configure|confirm|loadConfigFile|saveConfigFile)\(/;
/** the runner, and the simulator, which is the router's side of the API (it answers these calls) */
const ALLOWED = new Set(['src/changes/transaction.ts', 'src/simulator/api-routes.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : full.endsWith('.ts') ? [full] : [];
  });
}

test('router writes (configure, confirm, loadConfigFile, saveConfigFile) are called only by the runner', () => {
  const callers = sources(path.join(projectRoot, 'src'))
    .filter((file) => WRITES.test(readFileSync(file, 'utf8')))
    .map((file) => path.relative(projectRoot, file).split(path.sep).join('/'));
  assert.ok(callers.includes('src/changes/transaction.ts'), 'the check still sees the runner');
  assert.deepEqual(callers.filter((f) => !ALLOWED.has(f)), []);
});
