// What is running, for vyos_vm_api_build_info: the package version, the Node.js version and, when
// the build knew it, the git commit. `npm run build` runs this file, which stamps the commit into
// dist/build-info.json; a tree built without git (or by a bare tsc) has no commit label.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../database/orm.js';

export interface BuildInfo {
  version: string;
  node_version: string;
  /** the full commit hash the build was made from; absent when it was not known */
  commit?: string;
}

const STAMP = path.join(projectRoot, 'dist', 'build-info.json');

export function readBuildInfo(root = projectRoot): BuildInfo {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
  const info: BuildInfo = { version: pkg.version ?? 'unknown', node_version: process.version };
  try {
    const stamp = JSON.parse(readFileSync(path.join(root, 'dist', 'build-info.json'), 'utf8')) as { commit?: unknown };
    if (typeof stamp.commit === 'string' && /^[0-9a-f]{40}$/.test(stamp.commit)) info.commit = stamp.commit;
  } catch {
    // not stamped: no commit label
  }
  return info;
}

/** The commit of the work tree being built, or null (no git, not a checkout). */
export function gitCommit(root = projectRoot): string | null {
  const run = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000 });
  const out = run.status === 0 ? run.stdout.trim() : '';
  return /^[0-9a-f]{40}$/.test(out) ? out : null;
}

if (require.main === module) {
  const commit = gitCommit();
  writeFileSync(STAMP, `${JSON.stringify(commit ? { commit } : {})}\n`);
}
