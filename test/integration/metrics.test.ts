// GET /metrics after real operations: the series exist, their values move, labels stay bounded,
// METRICS_TOKEN protects the endpoint, and promtool accepts a live scrape.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { has, parseMetrics, value } from '../support/metrics.js';
import { subscribe } from '../support/subscriber.js';

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${url}/metrics`, { headers });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { ruleNumber } } }`;

describe('GET /metrics', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('a provision, a rolled-back provision and bad requests move the right series', async () => {
    const first = await scrape(t.url);
    assert.equal(first.status, 200);
    assert.match(first.type ?? '', /^text\/plain; version=0\.0\.4/);
    const s0 = parseMetrics(first.text);
    // Every rollback series exists at 0 before the first rollback, so increase() sees the first one.
    assert.equal(has(s0, 'vyos_vm_api_rollbacks_total', { stage: 'ROUTER_COMMIT', outcome: 'ROLLED_BACK' }), true);
    assert.equal(value(s0, 'vyos_vm_api_rollbacks_total'), 0);

    ok(await t.gql(PROVISION, { input: { name: 'metrics-ok', portRules: [{ internalPort: 80 }] } }));
    t.sim.faults.rejectNextCommit('Commit failed (injected for metrics)');
    const rejected = await t.gql(PROVISION, { input: { name: 'metrics-rejected', portRules: [{ internalPort: 81 }] } });
    assert.equal(errorCode(rejected), 'ROUTER_REJECTED');
    assert.equal(errorCode(await t.gql(`{ noSuchField }`)), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(`mutation { decommissionVm(id: "00000000-0000-4000-8000-000000000000") }`)), 'NOT_FOUND');
    const malformed = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    assert.equal(malformed.status, 400);
    assert.equal((await fetch(`${t.url}/no/such/page/${randomBytes(4).toString('hex')}`)).status, 404);

    const s1 = parseMetrics((await scrape(t.url)).text);
    const moved = (name: string, labels: Record<string, string> = {}) => value(s1, name, labels) - value(s0, name, labels);

    // GraphQL operations by root field, type and outcome; errors by code.
    assert.equal(moved('vyos_vm_api_graphql_operations_total', { operation: 'provisionVm', type: 'mutation', outcome: 'success' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_operations_total', { operation: 'provisionVm', type: 'mutation', outcome: 'server_error' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_operations_total', { operation: 'decommissionVm', type: 'mutation', outcome: 'client_error' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_operations_total', { operation: 'other', type: 'unknown', outcome: 'client_error' }), 1, 'the invalid query');
    assert.equal(moved('vyos_vm_api_graphql_errors_total', { operation: 'provisionVm', code: 'ROUTER_REJECTED' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_errors_total', { operation: 'decommissionVm', code: 'NOT_FOUND' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_errors_total', { code: 'BAD_USER_INPUT' }), 1);
    assert.equal(moved('vyos_vm_api_graphql_operation_duration_seconds_count', { operation: 'provisionVm' }), 2);
    assert.ok(moved('vyos_vm_api_graphql_operation_duration_seconds_sum', { operation: 'provisionVm', outcome: 'success' }) > 0);

    // The rollback, by stage and outcome.
    assert.equal(moved('vyos_vm_api_rollbacks_total', { stage: 'ROUTER_COMMIT', outcome: 'ROLLED_BACK' }), 1);
    assert.equal(moved('vyos_vm_api_rollbacks_total'), 1);

    // Router calls: one accepted and one rejected commit, one confirm; the router answered.
    assert.equal(moved('vyos_vm_api_router_calls_total', { endpoint: '/configure', op: 'commands', outcome: 'ok' }), 1);
    assert.equal(moved('vyos_vm_api_router_calls_total', { endpoint: '/configure', op: 'commands', outcome: 'REJECTED' }), 1);
    assert.ok(moved('vyos_vm_api_router_calls_total', { endpoint: '/retrieve', op: 'showConfig', outcome: 'ok' }) >= 2, 'read-backs');
    assert.equal(moved('vyos_vm_api_router_commit_duration_seconds_count'), 2);
    assert.equal(moved('vyos_vm_api_router_commit_duration_seconds_count', { outcome: 'REJECTED' }), 1);
    assert.ok(moved('vyos_vm_api_router_confirm_duration_seconds_count', { outcome: 'ok' }) >= 1);
    assert.ok(moved('vyos_vm_api_router_call_duration_seconds_sum', { endpoint: '/configure', op: 'commands' }) > 0);
    assert.equal(value(s1, 'vyos_vm_api_router_up'), 1);
    assert.ok(Math.abs(value(s1, 'vyos_vm_api_router_last_call_timestamp_seconds') - Date.now() / 1000) < 60);

    // Coordinator batches: the commit, the rejection (the NOT_FOUND fails before the router).
    assert.equal(moved('vyos_vm_api_batches_total', { outcome: 'committed' }), 1);
    assert.ok(moved('vyos_vm_api_batches_total', { outcome: 'failed' }) >= 1);
    assert.ok(moved('vyos_vm_api_batch_size_changes_count') >= 2);
    assert.ok(moved('vyos_vm_api_batch_size_changes_sum') >= 2);
    assert.ok(moved('vyos_vm_api_batch_router_commands_sum') >= 6, 'the provision sent its set commands');

    // HTTP by route and status; the unknown URL is "other", never its path.
    // An invalid query is 200 for application/json (GraphQL over HTTP); only the malformed body is 400.
    assert.equal(moved('vyos_vm_api_http_requests_total', { route: '/graphql', status: '200' }), 4, 'the provisions, the invalid query and the NOT_FOUND');
    assert.equal(moved('vyos_vm_api_http_requests_total', { route: '/graphql', status: '400' }), 1, 'the malformed body');
    assert.equal(moved('vyos_vm_api_http_requests_total', { route: 'other', status: '404' }), 1);
    assert.equal(moved('vyos_vm_api_http_requests_total', { route: '/metrics', status: '200' }), 1, 'the first scrape');
    assert.ok(!s1.some((s) => s.labels.route?.includes('/no/such')), 'raw URLs never become labels');

    // Database pool, process metrics, sync interval.
    assert.ok(has(s1, 'vyos_vm_api_db_pool_connections', { state: 'idle' }));
    assert.ok(value(s1, 'vyos_vm_api_db_pool_connections') >= 1, 'the pool holds at least one connection');
    assert.equal(value(s1, 'vyos_vm_api_db_pool_waiting_requests'), 0);
    assert.equal(value(s1, 'vyos_vm_api_db_pool_max_connections'), 10);
    assert.ok(value(s1, 'process_cpu_seconds_total') > 0);
    assert.ok(has(s1, 'nodejs_eventloop_lag_seconds'));
    assert.equal(value(s1, 'vyos_vm_api_sync_interval_seconds'), 0);
  });

  test('GraphQL over GET counts under route="/graphql", however the path is spelled; route labels stay in the documented set', async () => {
    const before = parseMetrics((await scrape(t.url)).text);
    const get = (path: string) =>
      fetch(`${t.url}${path}?query=${encodeURIComponent('{ health { status } }')}`, {
        headers: { accept: 'application/json', 'apollo-require-preflight': 'true', authorization: `Bearer ${t.adminKey}` },
      });
    for (const path of ['/graphql', '/GraphQL', '/graphql/']) {
      const res = await get(path);
      assert.equal(res.status, 200, `GET ${path}`);
      assert.ok(((await res.json()) as { data?: { health?: unknown } }).data?.health, `GET ${path} ran the query`);
    }
    const after = parseMetrics((await scrape(t.url)).text);
    const moved = (labels: Record<string, string>) => value(after, 'vyos_vm_api_http_requests_total', labels) - value(before, 'vyos_vm_api_http_requests_total', labels);
    assert.equal(moved({ route: '/graphql', status: '200' }), 3, 'the three GET operations');
    assert.equal(moved({ route: '/graphql', status: '200' }), moved({ status: '200' }) - 1, 'everything but the scrape counted under /graphql');
    const routes = new Set(after.filter((x) => x.name === 'vyos_vm_api_http_requests_total').map((x) => x.labels.route));
    for (const r of routes) assert.ok(['/graphql', '/health', '/ready', '/live', '/metrics', 'other'].includes(r), `route label ${r} is outside the documented set`);
  });

  test('router_up follows the router: 0 while it is unreachable, 1 when it answers again', async () => {
    const before = parseMetrics((await scrape(t.url)).text);
    assert.equal(value(before, 'vyos_vm_api_router_up', { router: 'default' }), 1);
    await t.sim.faults.setUnreachable(true);
    try {
      assert.equal((await fetch(`${t.url}/health`)).status, 503);
      const down = parseMetrics((await scrape(t.url)).text);
      assert.equal(value(down, 'vyos_vm_api_router_up', { router: 'default' }), 0);
      assert.ok(value(down, 'vyos_vm_api_router_calls_total', { outcome: 'UNREACHABLE' }) - value(before, 'vyos_vm_api_router_calls_total', { outcome: 'UNREACHABLE' }) >= 1);
    } finally {
      await t.sim.faults.setUnreachable(false);
    }
    assert.equal((await fetch(`${t.url}/health`)).status, 200);
    assert.equal(value(parseMetrics((await scrape(t.url)).text), 'vyos_vm_api_router_up', { router: 'default' }), 1);
  });

  test('database pool gauges show connections in use while queries run', async (ctx) => {
    // PGlite runs one statement at a time for every connection: three cannot be busy at once.
    if (t.db.embedded) return ctx.skip('needs a real PostgreSQL');
    const em = t.app.orm.em.fork();
    // Three sessions held open at once: the pool must report them as used.
    const held = [0, 1, 2].map(() => em.getConnection().execute('select pg_sleep(0.6)'));
    await new Promise((r) => setTimeout(r, 250));
    const during = parseMetrics((await scrape(t.url)).text);
    await Promise.all(held);
    assert.ok(value(during, 'vyos_vm_api_db_pool_connections', { state: 'used' }) >= 3, `used: ${value(during, 'vyos_vm_api_db_pool_connections', { state: 'used' })}`);
    const afterwards = parseMetrics((await scrape(t.url)).text);
    assert.equal(value(afterwards, 'vyos_vm_api_db_pool_connections', { state: 'used' }), 0);
  });

  test('the sync job\'s drift counts and last-run time, after an operator deletes a rule by hand', async () => {
    const vm = ok(await t.gql(PROVISION, { input: { name: 'drift-me', portRules: [{ internalPort: 22 }] } })).provisionVm;
    const ruleNumber = vm.portRules[0].ruleNumber as number;
    t.sim.apply([{ op: 'delete', path: ['nat', 'destination', 'rule', String(ruleNumber)] }]);
    const before = Date.now() / 1000;
    assert.equal(await t.app.syncJob.tick(), 'ok');
    const s = parseMetrics((await scrape(t.url)).text);
    assert.equal(value(s, 'vyos_vm_api_drift_items', { kind: 'MISSING_ON_ROUTER' }), 1);
    assert.equal(value(s, 'vyos_vm_api_drift_items', { kind: 'DRIFTED' }), 0);
    assert.equal(s.filter((x) => x.name === 'vyos_vm_api_drift_items').length, 4, 'one series per drift kind');
    assert.ok(value(s, 'vyos_vm_api_sync_last_success_timestamp_seconds') >= Math.floor(before));
    assert.ok(value(s, 'vyos_vm_api_sync_last_run_timestamp_seconds') >= Math.floor(before));
    assert.equal(value(s, 'vyos_vm_api_sync_leader'), 1);
    assert.equal(value(s, 'vyos_vm_api_sync_consecutive_failures'), 0);
  });

  test('operation labels stay bounded: 100 random operation names and 100 unknown fields add no label values', async () => {
    for (let i = 0; i < 100; i++) {
      const name = `Op_${randomBytes(6).toString('hex')}`;
      ok(await t.gql(`query ${name} { health { status } }`));
      await t.gql(`query ${name}X { field_${randomBytes(6).toString('hex')} }`);
    }
    const s = parseMetrics((await scrape(t.url)).text);
    const labels = new Set(s.filter((x) => x.name === 'vyos_vm_api_graphql_operations_total').map((x) => x.labels.operation));
    assert.ok(!([...labels].some((l) => /^Op_|^field_/.test(l))), `client names leaked into labels: ${[...labels].join(', ')}`);
    assert.ok(labels.has('health') && labels.has('other'));
    // Bounded by the schema: every label is a root field or "other".
    const intro = ok(await t.gql(`{ __schema { queryType { fields { name } } mutationType { fields { name } } } }`)) as any;
    const roots = new Set<string>([...intro.__schema.queryType.fields, ...intro.__schema.mutationType.fields].map((f: { name: string }) => f.name));
    for (const l of labels) assert.ok(l === 'other' || roots.has(l), `label ${l} is neither a root field nor "other"`);
    assert.ok(value(s, 'vyos_vm_api_graphql_operations_total', { operation: 'health', type: 'query', outcome: 'success' }) >= 100);
    assert.ok(value(s, 'vyos_vm_api_graphql_operations_total', { operation: 'other', outcome: 'client_error' }) >= 100);
  });

  test('subscription sockets are counted while open', async () => {
    const base = value(parseMetrics((await scrape(t.url)).text), 'vyos_vm_api_subscription_connections');
    const sub = await subscribe(t.url, t.adminKey, 'subscription { rollbackEvents { id } }');
    assert.equal(value(parseMetrics((await scrape(t.url)).text), 'vyos_vm_api_subscription_connections'), base + 1);
    await sub.close();
    for (let i = 0; i < 50; i++) {
      if (value(parseMetrics((await scrape(t.url)).text), 'vyos_vm_api_subscription_connections') === base) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(value(parseMetrics((await scrape(t.url)).text), 'vyos_vm_api_subscription_connections'), base);
  });

  test('promtool check metrics accepts a live scrape', (ctx) => {
    const which = spawnSync('sh', ['-c', 'command -v promtool']);
    if (which.status !== 0) {
      ctx.skip('promtool is not installed (apt-get install prometheus); CI installs it');
      return;
    }
    return scrape(t.url).then(({ text }) => {
      const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(run.status, 0, `promtool check metrics failed:\n${run.stdout}\n${run.stderr}`);
    });
  });
});

describe('METRICS_TOKEN', () => {
  const token = `metrics-${randomBytes(16).toString('hex')}`;
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { METRICS_TOKEN: token } });
  });
  after(async () => {
    await t?.close();
  });

  test('without the token /metrics is 401 and shows nothing; with it, the scrape', async () => {
    const none = await scrape(t.url);
    assert.equal(none.status, 401);
    assert.doesNotMatch(none.text, /vyos_vm_api_/);
    const wrong = await scrape(t.url, { authorization: `Bearer ${token}x` });
    assert.equal(wrong.status, 401);
    const adminKey = await scrape(t.url, { authorization: `Bearer ${t.adminKey}` });
    assert.equal(adminKey.status, 401, 'an API key is not the metrics token');
    const right = await scrape(t.url, { authorization: `Bearer ${token}` });
    assert.equal(right.status, 200);
    assert.match(right.text, /^vyos_vm_api_http_requests_total\{route="\/metrics",status="401"\} 3$/m);
  });

  test('a malformed METRICS_TOKEN is refused at start-up naming the variable', async () => {
    const { loadConfig } = await import('../../src/config.js');
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: expected 16 to 256/);
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'has a space in it, long enough' }), /METRICS_TOKEN/);
    assert.equal(loadConfig({ METRICS_TOKEN: token }).metricsToken, token);
  });
});
