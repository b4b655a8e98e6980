// SIGTERM while a mutation waits on a slow router commit: the process stops taking new work (503,
// Connection: close, not ready), lets the batch finish, answers its client, then exits 0, and the
// VM is in the database and on the router.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ok, startTestApp, type TestApp } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain HTTP request on a fresh connection: status and headers as sent (fetch hides `Connection`). */
function get(url: string): Promise<{ status: number; connection: string | undefined; retryAfter: string | undefined; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, retryAfter: res.headers['retry-after'], body }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

const COMMIT_MS = 12_000;

describe('graceful shutdown', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (two processes share the database)' }, () => {
  let t: TestApp;
  let proc: ServerProcess | undefined;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    t?.sim.setCommitLatency(0);
    await proc?.stop('SIGKILL');
    await t?.close();
  });

  test(`SIGTERM during a ${COMMIT_MS / 1000} s router commit: the mutation is answered, new work is refused, the process exits 0`, async () => {
    proc = await startServerProcess({
      DATABASE_URL: t.db.url,
      VYOS_URL: t.sim.url,
      VYOS_API_KEY: 'sim-key',
      ADMIN_API_KEY: t.adminKey,
      VYOS_COMMIT_TIMEOUT_MS: '30000',
      LOG_LEVEL: 'info',
    });
    // A subscriber, and a socket that will send a mutation, both open before the signal.
    const subscriberClosed: { code?: number; at?: number } = {};
    const subscriber = createClient({
      url: proc.url.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${t.adminKey}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {}, // the close is asserted below
      on: { closed: (e) => void (subscriberClosed.at ??= (subscriberClosed.code = (e as { code: number }).code, Date.now())) },
    });
    subscriber.subscribe({ query: 'subscription { rollbackEvents { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    const socket = wsClient(proc.url, t.adminKey);
    assert.equal((await wsOperation(socket, '{ health { database { status } } }')).errors, undefined);

    t.sim.setCommitLatency(COMMIT_MS);
    const started = Date.now();
    const overWs = wsOperation(socket, 'mutation { provisionVm(input: { name: "survives-sigterm-ws", portRules: [{ internalPort: 8444 }] }) { id } }', {}, 40_000);
    const pending = fetch(`${proc.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: 'mutation { provisionVm(input: { name: "survives-sigterm", portRules: [{ internalPort: 8443 }] }) { id portRules { ruleNumber } } }' }),
    }).then(
      async (res) => ({ status: res.status, body: (await res.json()) as { data?: { provisionVm?: { id: string } }; errors?: unknown[] } }),
      (e: Error) => ({ error: `${e.message} ${String((e as { cause?: unknown }).cause ?? '')}` }),
    );
    // The signal comes once the batch is in the router's commit (a fixed delay raced it on a slow machine).
    for (let i = 0; i < 200 && !t.sim.committing(); i++) await sleep(50);
    assert.ok(t.sim.committing(), 'precondition: the router started the commit');
    proc.child.kill('SIGTERM');
    await sleep(500);
    // While draining: new requests are refused with 503 and Connection: close; not ready; still live.
    const refused = await get(`${proc.url}/graphql?query=%7B__typename%7D`);
    const ready = await get(`${proc.url}/ready`);
    const live = await get(`${proc.url}/live`);
    const late = wsClient(proc.url, t.adminKey);
    const lateSocket = await wsOperation(late, '{ health { database { status } } }');
    await late.dispose();

    const reply = await pending;
    const answeredAfterMs = Date.now() - started;
    const answeredAt = Date.now();
    const wsReply = await overWs;
    const code = await proc.stop();
    const log = proc.log();

    assert.ok(!('error' in reply), `the client got no reply: ${'error' in reply ? reply.error : ''}\n${log}`);
    assert.equal(reply.status, 200, JSON.stringify(reply));
    assert.equal(reply.body.errors, undefined, JSON.stringify(reply.body));
    assert.ok(reply.body.data?.provisionVm?.id, 'the VM id came back');
    assert.ok(answeredAfterMs >= COMMIT_MS - 1000, `answered after ${answeredAfterMs} ms: the slow commit did happen`);

    assert.ok(!('error' in refused), `a new request during the drain got no answer: ${'error' in refused ? refused.error : ''}`);
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.connection, 'close');
    assert.ok(refused.retryAfter, 'Retry-After is set');
    assert.match(refused.body, /shutting down/);
    assert.ok(!('error' in ready) && ready.status === 503, `/ready while draining: ${JSON.stringify(ready)}`);
    assert.ok(!('error' in live) && live.status === 200, `/live while draining: ${JSON.stringify(live)}`);

    assert.equal(wsReply.errors, undefined, `the WebSocket mutation: ${JSON.stringify(wsReply)}`);
    assert.ok((wsReply.data?.provisionVm as { id?: string } | undefined)?.id, `the WebSocket mutation was answered: ${JSON.stringify(wsReply)}`);
    assert.equal(lateSocket.closeCode, 1001, `a socket opened while draining is refused: ${JSON.stringify(lateSocket)}`);
    assert.equal(subscriberClosed.code, 1001, 'the subscriber was closed: Going away');
    assert.ok(subscriberClosed.at! >= answeredAt - 200, 'the subscription stayed open until the running work was answered');
    await socket.dispose();
    await subscriber.dispose();

    assert.equal(code, 0, `exit code\n${log}`);
    // Both sides hold the VM: the database committed it, the router confirmed it.
    const vm = ok(await t.gql(`query($id: ID!) { vm(id: $id) { name portRules { internalPort } } }`, { id: reply.body.data!.provisionVm!.id }, { headers: { 'cache-control': 'no-cache' } })).vm;
    assert.equal(vm?.name, 'survives-sigterm');
    assert.ok(t.routerRules().some((r) => r.internalPort === '8443'), 'the rule is on the router');
    const wsVm = ok(await t.gql(`{ vms { edges { node { name } } } }`, {}, { headers: { 'cache-control': 'no-cache' } })).vms.edges.map((e: { node: { name: string } }) => e.node.name);
    assert.ok(wsVm.includes('survives-sigterm-ws'), `the WebSocket VM is in the database: ${wsVm}`);
    assert.ok(t.routerRules().some((r) => r.internalPort === '8444'), 'the WebSocket VM rule is on the router');
    assert.equal(t.sim.confirmPending(), false, 'the commit was confirmed');
  });
});
