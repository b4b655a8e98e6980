// docs/deploy.md's grace periods cover the server's own shutdown bound (src/shutdown.ts) for the
// default configuration: a shorter one is what cuts in-flight changes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { CLOSE_TIMEOUT_MS, drainTimeoutMs } from '../../src/shutdown.js';

const DEPLOY = readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'deploy.md'), 'utf8');

function number(re: RegExp, what: string): number {
  const m = re.exec(DEPLOY);
  assert.ok(m, `docs/deploy.md has no ${what}`);
  return Number(m[1]);
}

test('systemd TimeoutStopSec and Kubernetes terminationGracePeriodSeconds exceed the shutdown bound of the defaults', () => {
  const boundSeconds = (drainTimeoutMs(loadConfig({})) + CLOSE_TIMEOUT_MS) / 1000;
  const stopSec = number(/^TimeoutStopSec=(\d+)$/m, 'TimeoutStopSec');
  const grace = number(/terminationGracePeriodSeconds: (\d+)/, 'terminationGracePeriodSeconds');
  const preStop = number(/preStop: \{ exec: \{ command: \["sleep", "(\d+)"\] \} \}/, 'preStop sleep');
  assert.ok(stopSec > boundSeconds, `TimeoutStopSec=${stopSec} must exceed ${boundSeconds} s`);
  assert.ok(grace > preStop + boundSeconds, `terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop} s + ${boundSeconds} s`);
  assert.match(DEPLOY, new RegExp(`${boundSeconds} s with the defaults`), 'the prose states the bound');
});
