// The JSON log of a full scenario (provision, a rollback, a bad key, sockets, probes) captured
// line by line: every request has its line with id, operation, duration, outcome and key id,
// and no secret appears anywhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/subscriber.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

type Line = Record<string, any>;

/** Opens a graphql-ws socket with `key` and returns the close code the server ends it with. */
function refusedSocketCode(httpUrl: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

describe('structured logs of a full scenario', () => {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const routerKey = `sim-secret-${randomBytes(8).toString('hex')}`;
  const adminKey = `admin-${randomBytes(12).toString('hex')}`;
  const bogusKey = `bogus-${randomBytes(12).toString('hex')}`;
  const dbPassword = `db-pass-${randomBytes(8).toString('hex')}`;
  const metricsToken = `metrics-${randomBytes(12).toString('hex')}`;
  let db: TestDatabase;
  let sim: Simulator;
  let app: RunningApp;
  let lines: Line[] = [];

  async function gql(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { res, body: (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
  }

  before(async () => {
    db = await createTestDatabase();
    sim = await startSimulator({ keys: [routerKey], version: 'rolling' });
    // A password in DATABASE_URL (trust authentication ignores it): it must never be logged.
    const dbUrl = new URL(db.url);
    if (!db.embedded) dbUrl.password = dbPassword;
    const config = loadConfig({
      DATABASE_URL: dbUrl.toString(),
      VYOS_URL: sim.url,
      VYOS_API_KEY: routerKey,
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: adminKey,
      METRICS_TOKEN: metricsToken,
      LOG_LEVEL: 'debug',
      SYNC_INTERVAL_SECONDS: '0',
      VYOS_TIMEOUT_MS: '3000',
      VYOS_COMMIT_TIMEOUT_MS: '5000',
    });
    app = await startApp(config, createLogger(config.logLevel, sink));

    const provision = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }`;
    const first = await gql(provision, { input: { name: 'log-1', portRules: [{ internalPort: 80 }] } }, { authorization: `Bearer ${adminKey}`, 'x-request-id': 'req-provision-1' });
    assert.equal(first.res.headers.get('x-request-id'), 'req-provision-1', 'the client\'s request id is echoed');
    assert.equal(first.body.errors, undefined);
    sim.faults.rejectNextCommit();
    const rejected = await gql(provision, { input: { name: 'log-2', portRules: [{ internalPort: 81 }] } }, { 'x-api-key': adminKey, 'x-request-id': 'req-rollback-1' });
    assert.equal(rejected.body.errors?.[0]?.extensions?.code, 'ROUTER_REJECTED');
    const bad = await gql(`query ListVms { vms { totalCount } }`, {}, { authorization: `Bearer ${bogusKey}`, 'x-request-id': 'req-bad-key' });
    assert.equal(bad.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const generated = await gql(`{ health { status } }`, {}, { authorization: `Bearer ${adminKey}`, 'x-request-id': 'has spaces, not an id' });
    assert.match(generated.res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'an unusable request id is replaced');

    const sub = await subscribe(app.url, adminKey, 'subscription { rollbackEvents { id } }');
    await sub.close();
    assert.equal(await refusedSocketCode(app.url, bogusKey), 4403);
    assert.equal((await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status, 200);
    assert.equal((await fetch(`${app.url}/health`)).status, 200);

    const invalid = await gql(provision, { input: { name: 'Not A Label!' } }, { authorization: `Bearer ${adminKey}`, 'x-request-id': 'req-bad-input' });
    assert.equal(invalid.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    // A database fault the API has no code for: masked, and logged as an internal error.
    await app.orm.em.getConnection().execute('drop table rollback_event cascade');
    const broken = await gql(`{ rollbackEvents { totalCount } }`, {}, { authorization: `Bearer ${adminKey}`, 'x-request-id': 'req-internal' });
    assert.equal(broken.body.errors?.[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR');

    await app.stop();
    await new Promise((r) => setTimeout(r, 50));
    lines = raw.map((l) => JSON.parse(l) as Line);
  });
  after(async () => {
    await app?.stop();
    await sim?.close();
    await db?.drop();
  });

  test('every line is JSON with a level, a time and a message', () => {
    assert.ok(lines.length > 20, `only ${lines.length} lines`);
    for (const l of lines) {
      assert.equal(typeof l.level, 'string');
      assert.equal(typeof l.time, 'string');
      assert.equal(typeof l.msg, 'string');
    }
  });

  test('no secret appears in any line: API keys, the router key, the metrics token, the database password', () => {
    const secrets: [string, string][] = [
      ['the admin API key', adminKey],
      ['the unknown API key', bogusKey],
      ['the router API key', routerKey],
      ['the metrics token', metricsToken],
    ];
    if (!db.embedded) secrets.push(['the database password', dbPassword]);
    for (const line of raw) {
      for (const [what, secret] of secrets) assert.ok(!line.includes(secret), `${what} leaked into a log line: ${line}`);
    }
  });

  test('one request line per GraphQL request: request id, operation, duration, outcome, API key id and name', () => {
    const requests = lines.filter((l) => l.msg === 'request' && l.route === '/graphql');
    assert.equal(requests.length, 6, JSON.stringify(requests, null, 1));
    for (const r of requests) {
      assert.equal(typeof r.requestId, 'string');
      assert.equal(typeof r.operation, 'string');
      assert.equal(typeof r.durationMs, 'number');
      assert.equal(typeof r.outcome, 'string');
      assert.ok('keyId' in r);
    }
    const ok = requests.find((r) => r.requestId === 'req-provision-1')!;
    assert.equal(ok.operation, 'provisionVm');
    assert.equal(ok.operationType, 'mutation');
    assert.equal(ok.outcome, 'success');
    assert.equal(ok.status, 200);
    assert.match(ok.keyId, /^[0-9a-f-]{36}$/);
    assert.equal(ok.keyName, 'admin (ADMIN_API_KEY)');
    assert.equal(ok.credential, 'valid');
    assert.ok(ok.durationMs > 0);

    const rolledBack = requests.find((r) => r.requestId === 'req-rollback-1')!;
    assert.equal(rolledBack.outcome, 'server_error');
    assert.deepEqual(rolledBack.errorCodes, ['ROUTER_REJECTED']);
    assert.equal(rolledBack.keyId, ok.keyId, 'X-API-Key resolves to the same key id');
    assert.equal(rolledBack.level, 'warn');

    const badKey = requests.find((r) => r.requestId === 'req-bad-key')!;
    assert.equal(badKey.keyId, null);
    assert.equal(badKey.credential, 'invalid');
    assert.equal(badKey.operation, 'vms');
    assert.equal(badKey.operationName, 'ListVms');
    assert.equal(badKey.outcome, 'client_error');
    assert.deepEqual(badKey.errorCodes, ['UNAUTHENTICATED']);
  });

  test('each error is logged at its code\'s level: bad input below error, an internal error at error', () => {
    const graphqlErrors = lines.filter((l) => l.msg === 'GraphQL error');
    const invalid = graphqlErrors.find((l) => l.code === 'BAD_USER_INPUT')!;
    assert.ok(invalid, 'the bad input has its line');
    assert.equal(invalid.level, 'debug');
    assert.equal(graphqlErrors.find((l) => l.code === 'ROUTER_REJECTED')?.level, 'warn');
    assert.equal(graphqlErrors.find((l) => l.code === 'UNAUTHENTICATED')?.level, 'info');
    const masked = lines.find((l) => l.msg === 'internal error (masked from the client)')!;
    assert.ok(masked, 'the internal error has its line');
    assert.equal(masked.level, 'error');
    assert.match(masked.err?.message ?? '', /rollback_event/, 'the details go to the log');

    const requests = lines.filter((l) => l.msg === 'request' && l.route === '/graphql');
    const badInput = requests.find((l) => l.requestId === 'req-bad-input')!;
    assert.deepEqual(badInput.errorCodes, ['BAD_USER_INPUT']);
    assert.equal(badInput.level, 'info');
    const internal = requests.find((l) => l.requestId === 'req-internal')!;
    assert.deepEqual(internal.errorCodes, ['INTERNAL_SERVER_ERROR']);
    assert.equal(internal.level, 'error');
    assert.ok(!lines.some((l) => l.level === 'error' && JSON.stringify(l).includes('Not A Label')), 'bad input is never an error line');
  });

  test('probes are logged too, at debug, with their own request ids', () => {
    const metrics = lines.find((l) => l.msg === 'request' && l.route === '/metrics')!;
    assert.equal(metrics.level, 'debug');
    assert.equal(metrics.status, 200);
    const health = lines.find((l) => l.msg === 'request' && l.route === '/health')!;
    assert.equal(health.level, 'debug');
    assert.notEqual(health.requestId, metrics.requestId);
  });

  test('router calls at debug, the rollback at warn with its details', () => {
    const calls = lines.filter((l) => l.msg === 'router call');
    assert.ok(calls.length >= 4);
    assert.ok(calls.every((c) => c.level === 'debug' && typeof c.endpoint === 'string' && typeof c.durationMs === 'number'));
    // every line of a router's unit names the router (a fleet's lines tell routers apart)
    assert.ok(calls.every((c) => c.router === 'default'), 'router calls name their router');
    assert.ok(calls.some((c) => c.endpoint === '/configure' && c.outcome === 'REJECTED'));
    const rollback = lines.find((l) => l.rollback);
    assert.ok(rollback, 'a rollback line');
    assert.equal(rollback.level, 'warn');
    assert.equal(rollback.router, 'default');
    assert.equal(rollback.rollback.stage, 'ROUTER_COMMIT');
    assert.equal(rollback.rollback.outcome, 'ROLLED_BACK');
    assert.match(rollback.rollback.reason, /commit/i);
  });

  test('subscription sockets: opened and closed with the key id, a bad key refused', () => {
    const opened = lines.find((l) => l.msg === 'subscription socket opened')!;
    assert.match(opened.keyId, /^[0-9a-f-]{36}$/);
    assert.ok(lines.some((l) => l.msg === 'subscription socket closed' && l.keyId === opened.keyId));
    assert.ok(lines.some((l) => /subscription socket refused/.test(l.msg) && l.credential === 'invalid'));
  });
});

describe('request ids through the batch queue', () => {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let t: TestApp;
  const lines = () => raw.map((l) => JSON.parse(l) as Line);
  const carries = (l: Line, id: string) => l.requestId === id || (Array.isArray(l.requestIds) && l.requestIds.includes(id));
  const provision = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }`;

  before(async () => {
    // A wide batch window, so two requests sent together share a batch.
    // A short confirm minute: the first change here fails its commit-confirm commit before the
    // router's order is known, so the timer it may have left is waited out, never confirmed.
    t = await startTestApp({ sim: { minuteMs: 2000 }, env: { BATCH_WINDOW_MS: '300' }, logger: createLogger('debug', sink) });
  });
  after(async () => {
    await t?.close();
  });

  test('one request id on the request line, the batch line and the router error line of a failing mutation', async () => {
    t.sim.faults.rejectNextCommit();
    const res = await t.gql(provision, { input: { name: 'trace-1', portRules: [{ internalPort: 80 }] } }, { headers: { 'x-request-id': 'req-trace-1' } });
    assert.equal(res.errors?.[0]?.extensions?.code, 'ROUTER_REJECTED');
    await new Promise((r) => setTimeout(r, 50));
    const all = lines();
    const request = all.find((l) => l.msg === 'request' && l.requestId === 'req-trace-1');
    assert.ok(request, 'the request line');
    assert.match(request.keyId, /^[0-9a-f-]{36}$/);
    const batch = all.find((l) => l.msg === 'batch' && carries(l, 'req-trace-1'));
    assert.ok(batch, `a batch line carrying the request id: ${JSON.stringify(all.filter((l) => l.msg === 'batch'))}`);
    assert.deepEqual(batch.requestIds, ['req-trace-1']);
    assert.deepEqual(batch.keyIds, [request.keyId], 'the batch line names the key too');
    assert.equal(batch.outcome, 'failed');
    const routerError = all.find((l) => l.msg === 'router call' && l.endpoint === '/configure' && l.outcome === 'REJECTED');
    assert.ok(routerError, 'the router error line');
    assert.ok(carries(routerError, 'req-trace-1'), `the router error line carries the request id: ${JSON.stringify(routerError)}`);
    const rollback = all.find((l) => l.rollback);
    assert.ok(rollback && carries(rollback, 'req-trace-1'), `the rollback line carries the request id: ${JSON.stringify(rollback)}`);
    assert.equal(rollback.batchId, batch.batchId, 'lines of one batch share its batchId');
    const graphqlError = all.find((l) => l.msg === 'GraphQL error' && l.code === 'ROUTER_REJECTED');
    assert.ok(graphqlError && graphqlError.requestId === 'req-trace-1' && graphqlError.keyId === request.keyId, `the GraphQL error line: ${JSON.stringify(graphqlError)}`);
  });

  test('a batch carrying two requests lists both ids', async () => {
    const [one, two] = await Promise.all([
      t.gql(provision, { input: { name: 'pair-a', portRules: [{ internalPort: 80 }] } }, { headers: { 'x-request-id': 'req-pair-a' } }),
      t.gql(provision, { input: { name: 'pair-b', portRules: [{ internalPort: 80 }] } }, { headers: { 'x-request-id': 'req-pair-b' } }),
    ]);
    assert.equal(one.errors, undefined);
    assert.equal(two.errors, undefined);
    await new Promise((r) => setTimeout(r, 50));
    const batch = lines().find((l) => l.msg === 'batch' && carries(l, 'req-pair-a'));
    assert.ok(batch, 'a batch line');
    assert.deepEqual([...batch.requestIds].sort(), ['req-pair-a', 'req-pair-b']);
    assert.equal(batch.changeSets, 2);
    assert.equal(batch.outcome, 'committed');
    // Lines of one request outside the batch name only that request.
    const own = lines().filter((l) => l.requestId === 'req-pair-a');
    assert.ok(own.length >= 2, 'the request line and the audit line at least');
    assert.ok(!lines().some((l) => l.requestId === 'req-pair-a' && l.requestIds), 'a line has one request id or a list, not both');
  });

  test('a mutation over the WebSocket: its audit line and its batch line share one request id', async () => {
    const client = wsClient(t.url, t.adminKey);
    try {
      const outcome = await wsOperation(client, provision, { input: { name: 'ws-trace', portRules: [{ internalPort: 80 }] } });
      assert.equal(outcome.errors, undefined);
    } finally {
      await client.dispose();
    }
    await new Promise((r) => setTimeout(r, 50));
    const audit = lines().find((l) => l.audit && l.transport === 'ws');
    assert.ok(audit && typeof audit.requestId === 'string', `the audit line names its request: ${JSON.stringify(audit)}`);
    const batch = lines().find((l) => l.msg === 'batch' && carries(l, audit.requestId));
    assert.ok(batch, 'the batch line lists the WebSocket request');
    assert.deepEqual(batch.keyIds, [audit.keyId]);
  });
});
