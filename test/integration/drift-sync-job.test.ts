// The background sync job: driftDetected over a real WebSocket, the advisory-lock election between
// two job instances on one database, a failing router with back-off, and opt-in auto-repair.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { SyncJob, type SyncJobDeps } from '../../src/drift/sync-job.js';
import { reconcile } from '../../src/drift/reconcile.js';
import { takeSyncReport } from '../../src/drift/sync-report.js';
import type { SyncReportData } from '../../src/drift/drift-diff.js';
import { createLogger } from '../../src/observability/logger.js';
import { renderDelete } from '../../src/vyos/nat-rule.js';
import { ok, startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/subscriber.js';

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { id ruleNumber } } }`;
const silent = createLogger('silent');

/** A job wired like app.ts does, against this test app, counting its reports and publications. */
function jobFor(t: TestApp, over: Partial<SyncJobDeps> = {}, opts: ConstructorParameters<typeof SyncJob>[1] = {}) {
  const drift = { config: t.app.config, coordinator: t.app.coordinator, router: t.app.router };
  const seen = { reports: 0, published: [] as SyncReportData[] };
  const job = new SyncJob(
    {
      config: t.app.config,
      logger: silent,
      databaseUrl: t.db.url,
      report: async () => {
        seen.reports++;
        return takeSyncReport(drift);
      },
      repair: (mode) => reconcile(drift, mode, false),
      publish: (r) => void seen.published.push(r),
      ...over,
    },
    { intervalMs: 60_000, ...opts },
  );
  return { job, seen };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the background sync job', () => {
  let t: TestApp;
  let ruleNumber: number;
  before(async () => {
    // SYNC_INTERVAL_SECONDS=1: this app's own job runs every second.
    t = await startTestApp({ env: { SYNC_INTERVAL_SECONDS: '1' } });
    ruleNumber = ok(await t.gql(PROVISION, { input: { name: 'job-vm', portRules: [{ internalPort: 80 }] } })).provisionVm.portRules[0].ruleNumber;
  });
  after(async () => {
    await t?.close();
  });

  test('publishes driftDetected to a WebSocket subscriber when a rule is deleted by hand, and /health tells what it found', async () => {
    const sub = await subscribe(t.url, t.adminKey, `subscription { driftDetected { inSync checkedAt items { kind ruleNumber portRule { ruleNumber } } } }`);
    try {
      t.sim.apply([renderDelete(ruleNumber)]);
      const event = await sub.next((e: any) => e.driftDetected.items.some((i: { kind: string }) => i.kind === 'MISSING_ON_ROUTER'));
      const report = (event as any).driftDetected;
      assert.equal(report.inSync, false);
      assert.deepEqual(report.items, [{ kind: 'MISSING_ON_ROUTER', ruleNumber, portRule: { ruleNumber } }]);
      assert.ok(!Number.isNaN(Date.parse(report.checkedAt)));

      const health = (await (await fetch(`${t.url}/health`)).json()) as { background: { status: string; detail: string } };
      assert.equal(health.background.status, 'ok');
      assert.match(health.background.detail, /drift found \(MISSING_ON_ROUTER 1\)/);
      const status = t.app.syncJob.status();
      assert.equal(status.leader, true);
      assert.equal(status.counts.MISSING_ON_ROUTER, 1);
      assert.equal(status.lastRepair, null, 'AUTO_RECONCILE is off: nothing repaired');
    } finally {
      await sub.close();
    }
    assert.ok(!t.routerRules().some((r) => r.ruleNumber === ruleNumber), 'without AUTO_RECONCILE the rule stays missing');
    // Put it back for the next tests.
    ok(await t.gql(`mutation { reconcile(mode: MERGED) { applied } }`));
  });

  test('two job instances on one database: exactly one runs; the other takes over when the holder stops or its connection dies', async (ctx) => {
    if (t.db.embedded) return ctx.skip('needs a real PostgreSQL (the embedded one has one session)');
    // Stop the app's own job so the two below compete alone.
    await t.app.syncJob.stop();
    const a = jobFor(t);
    const b = jobFor(t);
    try {
      const [ra, rb] = await Promise.all([a.job.tick(), b.job.tick()]);
      assert.deepEqual([ra, rb].sort(), ['ok', 'standby']);
      const [leader, standby] = ra === 'ok' ? [a, b] : [b, a];
      assert.equal(leader.seen.reports, 1);
      assert.equal(standby.seen.reports, 0, 'the standby never took a report');
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await Promise.all([leader.job.tick(), standby.job.tick()]), ['ok', 'standby']);
      }
      assert.equal(standby.seen.reports, 0);
      assert.equal(standby.job.check().detail, 'standby: another replica holds the sync lock');

      // The holder's connection is killed (as if its process died): the lock goes with it.
      const admin = new pg.Client({ connectionString: t.db.url });
      await admin.connect();
      try {
        const held = await admin.query(
          `select l.pid from pg_locks l join pg_stat_activity a using (pid)
            where l.locktype = 'advisory' and l.granted and a.application_name = 'vyos-vm-api sync-job'`,
        );
        assert.equal(held.rowCount, 1, 'one session holds the sync lock');
        await admin.query('select pg_terminate_backend($1)', [held.rows[0].pid]);
      } finally {
        await admin.end();
      }
      await until(() => leader.job.status().leader === false);
      assert.equal(await standby.job.tick(), 'ok', 'the standby took over');
      assert.equal(await leader.job.tick(), 'standby', 'the old holder reconnects as standby');

      // A clean stop releases the lock at once.
      await standby.job.stop();
      assert.equal(await leader.job.tick(), 'ok');
    } finally {
      await a.job.stop();
      await b.job.stop();
    }
  });

  test('a failing router does not crash the job: it reports degraded, backs off exponentially, and recovers', async () => {
    const { job, seen } = jobFor(t, { databaseUrl: null }, { intervalMs: 100, maxBackoffMs: 800, firstRunMs: 0 });
    await t.sim.faults.setUnreachable(true);
    try {
      job.start();
      await until(() => job.status().consecutiveFailures >= 4);
      const s = job.status();
      assert.equal(s.lastOk, false);
      assert.match(s.lastError ?? '', /router unavailable/i);
      const check = job.check();
      assert.ok(check.status === 'degraded' || check.status === 'down', check.status);
      assert.match(check.detail ?? '', /failed/);
      // The wait after the n-th failure: 100 ms * 2^n capped at 800 ms, not the 100 ms interval.
      await until(() => job.status().nextRunAt!.getTime() > job.status().lastRunAt!.getTime());
      const after = job.status();
      const wait = after.nextRunAt!.getTime() - after.lastRunAt!.getTime();
      const expected = Math.min(100 * 2 ** after.consecutiveFailures, 800);
      assert.equal(expected, 800);
      assert.ok(wait >= expected - 20 && wait <= expected + 200, `waits ${wait} ms after ${after.consecutiveFailures} failures`);
      assert.equal(seen.published.length, 0);
    } finally {
      await t.sim.faults.setUnreachable(false);
    }
    await until(() => job.status().lastOk === true, 5000);
    assert.equal(job.status().consecutiveFailures, 0);
    assert.equal(job.check().status, 'ok');
    await job.stop();
  });

  test('the report overdue by more than three intervals makes /health background down', () => {
    const { job } = jobFor(t, { databaseUrl: null }, { intervalMs: 1000 });
    job.start();
    try {
      assert.equal(job.check().status, 'ok');
      assert.equal(job.check(new Date(Date.now() + 3500)).status, 'down');
    } finally {
      void job.stop();
    }
  });

  test('AUTO_RECONCILE=merged repairs a missing rule and leaves an unmanaged one alone', async () => {
    t.sim.apply([
      renderDelete(ruleNumber),
      { op: 'set', path: ['nat', 'destination', 'rule', '15500', 'destination', 'port', '32900'] },
      { op: 'set', path: ['nat', 'destination', 'rule', '15500', 'protocol', 'tcp'] },
      { op: 'set', path: ['nat', 'destination', 'rule', '15500', 'translation', 'address', '192.168.64.160'] },
    ]);
    const { job, seen } = jobFor(t, { databaseUrl: null, config: { ...t.app.config, autoReconcile: 'merged' } });
    assert.equal(await job.tick(), 'ok');
    assert.equal(seen.published.length, 1, 'the drift is still published');
    assert.equal(seen.published[0].items.length, 2);
    const rules = new Map(t.routerRules().map((r) => [r.ruleNumber, r]));
    assert.ok(rules.has(ruleNumber), 'the missing rule is back');
    assert.ok(rules.has(15500), 'MERGED leaves the unmanaged rule');
    assert.equal(job.status().lastRepair?.mode, 'MERGED');
    assert.ok((job.status().lastRepair?.commands ?? 0) > 0);
    await job.stop();
  });
});
