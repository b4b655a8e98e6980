// GET /ready asks only what this replica needs to serve (its database), within a deadline below
// the readiness probe's timeout (docs/deploy.md: 3 s), whatever the router does. /health keeps the
// deep check.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { parseMetrics, value } from '../support/metrics.js';

async function timedGet(url: string): Promise<{ status: number; ms: number; body: unknown }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.json();
  return { status: res.status, ms: performance.now() - started, body };
}

describe('/ready does not depend on the router', () => {
  let t: TestApp;
  // Router calls so far, as /metrics counts them (the background probe is off here, so only
  // the requests of this test call the router).
  const routerCalls = async () => value(parseMetrics(await (await fetch(`${t.url}/metrics`)).text()), 'vyos_vm_api_router_calls_total');
  before(async () => {
    t = await startTestApp({ env: { ROUTER_PROBE_SECONDS: '0' } });
  });
  after(async () => {
    t?.sim.faults.clear();
    await t?.sim.faults.setUnreachable(false);
    await t?.close();
  });

  test('a slow router (every reply 4 s late): /ready answers 200 within 1 s and makes no router call; /health still waits for the router', async () => {
    t.sim.faults.slow(4000);
    const calls = await routerCalls();
    const ready = await timedGet(`${t.url}/ready`);
    assert.equal(ready.status, 200);
    assert.ok(ready.ms < 1000, `/ready took ${Math.round(ready.ms)} ms`);
    assert.deepEqual(ready.body, { ready: true, database: 'ok' });
    assert.equal(await routerCalls(), calls, '/ready called the router');
    const health = await timedGet(`${t.url}/health`);
    // (the client gives up on a read after VYOS_TIMEOUT_MS, 3 s in tests)
    assert.ok(health.ms >= 2500, `/health should wait for the router (took ${Math.round(health.ms)} ms)`);
    t.sim.faults.clear();
  });

  test('an unreachable router: /ready answers 200 within 1 s, /health 503 naming the router', async () => {
    await t.sim.faults.setUnreachable(true);
    const ready = await timedGet(`${t.url}/ready`);
    assert.equal(ready.status, 200);
    assert.ok(ready.ms < 1000, `/ready took ${Math.round(ready.ms)} ms`);
    const health = await timedGet(`${t.url}/health`);
    assert.equal(health.status, 503);
    assert.equal((health.body as { router: { status: string } }).router.status, 'down');
    await t.sim.faults.setUnreachable(false);
  });

  test('a database that does not answer in time (every pooled connection busy): 503 within the deadline, not a hung probe', async (ctx) => {
    if (t.db.embedded) return ctx.skip('needs a real PostgreSQL (PGlite runs one statement at a time)');
    const em = t.app.orm.em.fork();
    const held = Array.from({ length: 10 }, () => em.getConnection().execute('select pg_sleep(4)'));
    await new Promise((r) => setTimeout(r, 300));
    try {
      const ready = await timedGet(`${t.url}/ready`);
      assert.equal(ready.status, 503);
      assert.ok(ready.ms < 2800, `/ready took ${Math.round(ready.ms)} ms, past a 3 s probe timeout`);
      assert.match(String((ready.body as { detail?: string }).detail), /no answer within 2000 ms/);
    } finally {
      await Promise.all(held);
    }
    assert.equal((await timedGet(`${t.url}/ready`)).status, 200);
  });
});
