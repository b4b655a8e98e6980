// GET /health, GET /ready and the GraphQL `health` query while the router or the database goes
// away and comes back: 503 naming what is down, then 200 again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ok, startTestApp, type TestApp } from '../support/app.js';

interface HealthBody {
  status: string;
  database: { status: string; latencyMs: number | null; detail: string | null };
  router: { status: string; latencyMs: number | null; detail: string | null };
  background: { status: string; detail: string | null };
}

async function health(t: TestApp): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${t.url}/health`);
  return { status: res.status, body: (await res.json()) as HealthBody };
}

/** Polls /health until it answers `status` (a pool replaces dead connections on use). */
async function healthUntil(t: TestApp, status: number, tries = 20): Promise<{ status: number; body: HealthBody }> {
  let last = await health(t);
  for (let i = 1; i < tries && last.status !== status; i++) {
    await new Promise((r) => setTimeout(r, 250));
    last = await health(t);
  }
  return last;
}

const HEALTH_QUERY = `{ health { status database { status detail } router { status latencyMs detail } background { status detail } } }`;

describe('health while the router goes away and comes back', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.sim.faults.setUnreachable(false);
    await t?.close();
  });

  test('healthy: 200 with the pool state, the router version and latency, the sync job', async () => {
    const { status, body } = await health(t);
    assert.equal(status, 200);
    assert.notEqual(body.status, 'down');
    assert.equal(body.database.status, 'ok');
    assert.match(body.database.detail ?? '', /^pool \d+ used, \d+ idle, 0 waiting \(max 10\)$/);
    assert.notEqual(body.router.status, 'down');
    assert.match(body.router.detail ?? '', /version \S+, commit-confirm \(probed/);
    assert.ok(typeof body.router.latencyMs === 'number' && body.router.latencyMs >= 0);
    assert.match(body.background.detail ?? '', /disabled \(SYNC_INTERVAL_SECONDS=0\)/);
    const ready = await fetch(`${t.url}/ready`);
    assert.equal(ready.status, 200);
  });

  test('router unreachable: 503 naming the router; /ready stays 200; back to 200 when it returns', async () => {
    await t.sim.faults.setUnreachable(true);
    const down = await health(t);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'down');
    assert.equal(down.body.router.status, 'down');
    assert.match(down.body.router.detail ?? '', /unreachable/i);
    assert.equal(down.body.database.status, 'ok', 'the database is fine');
    // Readiness is about this process taking traffic: reads still work without the router.
    assert.equal((await fetch(`${t.url}/ready`)).status, 200);
    const gql = ok(await t.gql(HEALTH_QUERY)).health;
    assert.equal(gql.status, 'down');
    assert.equal(gql.router.status, 'down');

    await t.sim.faults.setUnreachable(false);
    const back = await healthUntil(t, 200);
    assert.equal(back.status, 200);
    assert.notEqual(back.body.router.status, 'down');
  });

  test('a commit-confirm action other than reload is a warning (degraded, still 200)', async () => {
    t.sim.apply([{ op: 'set', path: ['system', 'config-management', 'commit-confirm', 'action', 'reboot'] }]);
    let h = await health(t);
    assert.equal(h.status, 200);
    assert.equal(h.body.router.status, 'degraded');
    assert.match(h.body.router.detail ?? '', /commit-confirm action is not "reload"/);
    t.sim.apply([{ op: 'set', path: ['system', 'config-management', 'commit-confirm', 'action', 'reload'] }]);
    h = await health(t);
    assert.equal(h.status, 200);
    assert.equal(h.body.router.status, 'ok');
    assert.doesNotMatch(h.body.router.detail ?? '', /not "reload"/);
  });
});

describe('health while the database goes away and comes back', () => {
  let t: TestApp;
  let admin: pg.Client;
  let dbName: string;
  before(async () => {
    t = await startTestApp();
    if (t.db.embedded) return;
    dbName = new URL(t.db.url).pathname.slice(1);
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
  });
  after(async () => {
    if (admin) {
      await admin.query(`alter database ${dbName} allow_connections true`).catch(() => {});
      await admin.end();
    }
    await t?.close();
  });

  test('connections killed and refused: 503 naming the database; 200 again when it accepts connections', async (ctx) => {
    if (t.db.embedded) {
      ctx.skip('needs a real PostgreSQL (TEST_DATABASE_URL) to refuse connections');
      return;
    }
    assert.equal((await health(t)).status, 200);
    await admin.query(`alter database ${dbName} allow_connections false`);
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [dbName]);

    const down = await healthUntil(t, 503);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'down');
    assert.equal(down.body.database.status, 'down');
    assert.match(down.body.database.detail ?? '', /not currently accepting connections|terminat|connection/i);
    assert.notEqual(down.body.router.status, 'down', 'the router is fine');
    assert.equal((await fetch(`${t.url}/ready`)).status, 503, 'not ready without a database');

    await admin.query(`alter database ${dbName} allow_connections true`);
    const back = await healthUntil(t, 200);
    assert.equal(back.status, 200);
    assert.equal(back.body.database.status, 'ok');
    assert.equal((await fetch(`${t.url}/ready`)).status, 200);
    // And the API works again, through a fresh pool connection.
    ok(await t.gql(`{ vms { totalCount } }`));
  });
});
