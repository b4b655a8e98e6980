// The HTTP edge: security headers, the CORS allow-list, and errors that never leak stack traces
// or SQL (an internal error forced by dropping a table in this test's own database).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ok, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

const LEAK = /select|insert|relation|rollback_event|postgres|sql|stack|\.js:\d+|at [A-Za-z]+ \(|node_modules/i;

describe('security headers and CORS (default: no CORS)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('every response carries the security headers and no X-Powered-By', async () => {
    for (const [path, init] of [
      ['/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }],
      ['/health', {}],
      ['/no-such-page', {}],
    ] as const) {
      const res = await fetch(`${t.url}${path}`, init as RequestInit);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      // Express's own 404 page sends the stricter `default-src 'none'`.
      assert.match(res.headers.get('content-security-policy') ?? '', path === '/no-such-page' ? /default-src 'none'/ : /default-src 'self'.*frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-powered-by'), null, path);
      // helmet's other defaults (issue 15, finding 9).
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin', path);
      assert.equal(res.headers.get('origin-agent-cluster'), '?1', path);
      assert.equal(res.headers.get('x-dns-prefetch-control'), 'off', path);
      assert.equal(res.headers.get('x-permitted-cross-domain-policies'), 'none', path);
      assert.equal(res.headers.get('x-xss-protection'), '0', path);
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000', path);
    }
  });

  test("the API's policy forbids loading, framing and forms; the IDE page's allows what GraphiQL needs and no more", async () => {
    const api = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    const policy = api.headers.get('content-security-policy') ?? '';
    for (const directive of ["base-uri 'none'", "form-action 'none'", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(policy.includes(directive), `${directive} in ${policy}`);
    const ide = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    const idePolicy = ide.headers.get('content-security-policy') ?? '';
    assert.match(idePolicy, /script-src 'self'(;|$)/);
    assert.match(idePolicy, /connect-src 'self'/);
    assert.doesNotMatch(idePolicy, /unsafe-eval|upgrade-insecure-requests/);
    assert.doesNotMatch(idePolicy, /script-src[^;]*unsafe-inline/);
  });

  test('with CORS_ORIGINS unset, no origin gets CORS headers', async () => {
    const res = await fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const post = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    assert.equal(post.headers.get('access-control-allow-origin'), null);
  });

  test('malformed JSON is a 400 JSON error without a stack trace', async () => {
    const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ __typename }"' });
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.doesNotMatch(text, LEAK);
    assert.equal(JSON.parse(text).errors[0].extensions.code, 'BAD_USER_INPUT');
  });
});

describe('CORS allow-list', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://console.example.com, http://localhost:5173' } });
  });
  after(async () => {
    await t?.close();
  });

  test('a listed origin gets a preflight answer and its origin echoed; others get nothing', async () => {
    const pre = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://console.example.com');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('vary') ?? '', /Origin/);

    const post = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'http://localhost:5173', 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: '{"query":"{ vms { totalCount } }"}',
    });
    assert.equal(post.headers.get('access-control-allow-origin'), 'http://localhost:5173');

    for (const origin of ['https://evil.example', 'https://console.example.com.evil.example', 'null']) {
      const res = await fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  test('browser code may read X-Request-Id and Retry-After, and common client headers pass the preflight', async () => {
    const asked = ['authorization', 'content-type', 'cache-control', 'x-request-id', 'x-apollo-operation-name', 'apollographql-client-name', 'apollographql-client-version', 'traceparent', 'tracestate'];
    const pre = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': asked.join(', ') },
    });
    assert.equal(pre.status, 204);
    const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const h of asked) assert.ok(allowed.includes(h), `${h} is allowed at preflight (${allowed.join(', ')})`);
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    assert.equal(pre.headers.get('access-control-allow-credentials'), null, 'keys travel in headers, never cookies');

    const post = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://console.example.com', 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: '{"query":"{ vms { totalCount } }"}',
    });
    const exposed = (post.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const h of ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy']) assert.ok(exposed.includes(h), `${h} is exposed (${exposed.join(', ')})`);
  });
});

describe('internal errors are masked', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('a broken database gives INTERNAL_SERVER_ERROR with no SQL or stack, over HTTP and WebSocket', async () => {
    ok(await t.gql(`{ rollbackEvents { totalCount } }`));
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    try {
      await client.query('drop table rollback_event cascade');
    } finally {
      await client.end();
    }
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: '{ rollbackEvents { totalCount edges { node { id } } } }' }),
    });
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR', text);
    assert.equal(body.errors[0].message, 'Internal server error');
    assert.doesNotMatch(text, LEAK);

    const ws = wsClient(t.url, t.adminKey);
    try {
      const out = await wsOperation(ws, '{ rollbackEvents { totalCount } }');
      assert.equal(out.errors?.[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR', JSON.stringify(out));
      assert.doesNotMatch(JSON.stringify(out), LEAK);
    } finally {
      await ws.dispose();
    }
  });
});
