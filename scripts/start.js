#!/usr/bin/env node
// `npm start`: builds only when dist/ is missing or older than a source, then runs the server in
// this same process, so a signal to `npm start`'s node reaches the server and no child is left
// holding the port. Plain JavaScript: it must run before anything is compiled.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { build, findTsc } = require('./build.js');

/**
 * What the build reads: a change to any of them makes dist/ stale. The lock file too: a changed
 * dependency (GraphiQL, say) changes what the IDE bundle holds; and the build script itself.
 */
const SOURCES = ['src', 'migrations', 'mikro-orm.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json', 'scripts/build.js'];
/** The server's entry point; tsc writes every output together, so its age is the build's. */
const ENTRY = path.join('dist', 'src', 'main.js');

/** The newest file under `p` (a file or a folder), as { file, mtimeMs }, or null when there is none. */
function newestFile(p) {
  let stat;
  try {
    stat = fs.statSync(p);
  } catch {
    return null;
  }
  if (!stat.isDirectory()) return { file: p, mtimeMs: stat.mtimeMs };
  let newest = null;
  for (const name of fs.readdirSync(p)) {
    const found = newestFile(path.join(p, name));
    if (found && (!newest || found.mtimeMs > newest.mtimeMs)) newest = found;
  }
  return newest;
}

/** Why `root` needs a build (a short sentence), or null when its dist/ is current. */
function staleReason(root) {
  let builtAt;
  try {
    builtAt = fs.statSync(path.join(root, ENTRY)).mtimeMs;
  } catch {
    return `${ENTRY} is missing`;
  }
  for (const source of SOURCES) {
    const found = newestFile(path.join(root, source));
    if (found && found.mtimeMs > builtAt) return `${path.relative(root, found.file)} is newer than ${ENTRY}`;
  }
  return null;
}

async function start(root) {
  const reason = staleReason(root);
  if (reason) {
    const tsc = findTsc(root);
    if (tsc) {
      process.stderr.write(`start: building (${reason})\n`);
      if (!(await build(root, tsc))) {
        process.stderr.write('start: the build did not finish (above); nothing started\n');
        process.exit(1);
      }
    } else if (fs.existsSync(path.join(root, ENTRY))) {
      process.stderr.write(`start: ${reason}, but TypeScript is not installed: starting the existing build\n`);
    } else {
      process.stderr.write(`start: ${ENTRY} is missing and TypeScript is not installed: run \`npm ci\` (with devDependencies), or build before pruning them\n`);
      process.exit(1);
    }
  }
  require(path.join(root, ENTRY));
}

if (require.main === module) void start(path.resolve(__dirname, '..'));

module.exports = { staleReason, SOURCES, ENTRY };
