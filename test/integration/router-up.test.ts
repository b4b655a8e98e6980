// vyos_vm_api_router_up follows the router within its documented bound (docs/monitoring.md)
// whatever the sync job's back-off: a cheap probe runs whenever no other call has for
// ROUTER_PROBE_SECONDS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { parseMetrics } from '../support/metrics.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function routerUp(t: TestApp): Promise<number | null> {
  const samples = parseMetrics(await (await fetch(`${t.url}/metrics`)).text());
  const hit = samples.find((s) => s.name === 'vyos_vm_api_router_up' && s.labels.router === 'default');
  return hit ? hit.value : null;
}

/** Polls the gauge until it reads `want`; resolves with how long that took, or null. */
async function gaugeBecomes(t: TestApp, want: number, withinMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started <= withinMs) {
    if ((await routerUp(t)) === want) return Date.now() - started;
    await sleep(100);
  }
  return null;
}

describe('router_up while the sync job backs off', () => {
  let t: TestApp;
  before(async () => {
    // A 2 s sync interval backs off to 8 s and 16 s after two and three failures.
    t = await startTestApp({ env: { SYNC_INTERVAL_SECONDS: '2', ROUTER_PROBE_SECONDS: '1' } });
  });
  after(async () => {
    await t?.sim.faults.setUnreachable(false);
    await t?.close();
  });

  test('without any request: 1 while the router answers, 0 within the bound after it goes, 1 within the bound after it returns', async () => {
    assert.notEqual(await gaugeBecomes(t, 1, 3000), null, 'router_up is 1 on a working router, with no request made');
    await t.sim.faults.setUnreachable(true);
    assert.notEqual(await gaugeBecomes(t, 0, 3000), null, 'router_up went 0 within 3 s of the router going away');
    // Let the sync job fail twice or more, so its next run is 8 s or more away.
    const failing = Date.now();
    while (t.app.syncJob.status().consecutiveFailures < 2) {
      assert.ok(Date.now() - failing < 15_000, 'precondition: the sync job fails while the router is away');
      await sleep(200);
    }
    await t.sim.faults.setUnreachable(false);
    const took = await gaugeBecomes(t, 1, 3000);
    assert.notEqual(took, null, `router_up stayed 0 for 3 s after the router returned (sync job next run ${t.app.syncJob.status().nextRunAt?.toISOString()})`);
    assert.ok(t.app.syncJob.status().consecutiveFailures >= 2, 'the gauge came back before the sync job ran again');
  });
});
