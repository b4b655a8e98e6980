#!/usr/bin/env node
// `npm run build` (and `npm start` when dist/ is stale): a clean dist/ from tsc, then the steps that
// need the compiled code: the build stamp for build_info and the IDE bundle. Plain JavaScript: it
// runs before anything is compiled.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** After tsc, in order; a step missing from the tree (a project without it) is skipped. */
const AFTER_TSC = [path.join('dist', 'src', 'observability', 'build-info.js'), path.join('dist', 'src', 'graphql', 'ide-bundle.js')];

function run(root, args) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
  // Ctrl-C or a SIGTERM during the build stops the step too, not just this process.
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(code === 0);
    });
  });
}

/** The TypeScript compiler installed for `root`, or null (a production install without devDependencies). */
function findTsc(root) {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return null;
  }
}

/** A clean dist/ (no outputs of deleted sources, such as a removed migration); false when a step failed. */
async function build(root, tsc) {
  const dist = path.join(root, 'dist');
  fs.rmSync(dist, { recursive: true, force: true });
  let ok = await run(root, [tsc, '-p', 'tsconfig.json']);
  for (const step of AFTER_TSC) {
    if (!ok) break;
    if (fs.existsSync(path.join(root, step))) ok = await run(root, [step]);
  }
  // tsc emits despite type errors: remove the output so the next start builds again
  if (!ok) fs.rmSync(dist, { recursive: true, force: true });
  return ok;
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const tsc = findTsc(root);
  if (!tsc) {
    process.stderr.write('build: TypeScript is not installed: run `npm ci` (with devDependencies)\n');
    process.exit(1);
  }
  void build(root, tsc).then((ok) => process.exit(ok ? 0 : 1));
}

module.exports = { build, findTsc };
