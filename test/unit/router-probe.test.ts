// The router probe: silent while other calls keep the gauge fresh, one read per quiet interval otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { RouterProbe } from '../../src/observability/router-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('no probe while calls keep coming; about one per interval when quiet; none after stop()', async () => {
  // The interval is far above the calls' spacing, so a slow machine's late timers cannot look quiet.
  const probe = new RouterProbe({ intervalMs: 150, logger: createLogger('silent') });
  const seen: string[] = [];
  const onCall = probe.watch((e: string) => seen.push(e));
  let probes = 0;
  probe.start(async () => {
    probes++;
    onCall('probe');
  });
  // Busy: a call every 20 ms for 300 ms.
  for (let i = 0; i < 15; i++) {
    onCall('traffic');
    await sleep(20);
  }
  assert.equal(probes, 0, 'no probe while the router is being called anyway');
  await sleep(1000);
  // at most one per 150 ms of quiet (timers never fire early); at least half of those
  assert.ok(probes >= 3 && probes <= 7, `about one probe per 150 ms of quiet, got ${probes}`);
  probe.stop();
  const stopped = probes;
  await sleep(200);
  assert.equal(probes, stopped, 'no probe after stop()');
});

test('a failing probe is retried on the next interval, one at a time', async () => {
  const probe = new RouterProbe({ intervalMs: 30, logger: createLogger('silent') });
  let running = 0;
  let most = 0;
  let calls = 0;
  probe.start(async () => {
    calls++;
    most = Math.max(most, ++running);
    await sleep(80); // slower than the interval
    running--;
    throw new Error('router unreachable');
  });
  await sleep(400);
  probe.stop();
  assert.ok(calls >= 2, `retried: ${calls}`);
  assert.equal(most, 1, 'never two probes at once');
});

test('interval 0: never probes', async () => {
  const probe = new RouterProbe({ intervalMs: 0, logger: createLogger('silent') });
  let calls = 0;
  probe.start(async () => void calls++);
  await sleep(100);
  probe.stop();
  assert.equal(calls, 0);
});
