// Rate limits: per API key (per client address without a valid key), writes and reads apart, HTTP 429 with
// Retry-After and a FORBIDDEN/RATE_LIMITED GraphQL error; the WebSocket shares the budgets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { bucketState, rateLimitHeaders, waitSeconds } from '../../src/security/rate-limit.js';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

interface Reply {
  status: number;
  retryAfter: string | null;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

describe('buckets (pure): a minute\'s allowance, refilled continuously', () => {
  test('3 a minute: after one unit 2 are left and the next comes in 20 s; a full bucket says no t', () => {
    // the bucket is stored as the instant it is full again
    assert.deepEqual(bucketState({ fullAtMs: 0, nowMs: 0 }, 3), { remaining: 3, nextUnitSeconds: null });
    assert.deepEqual(bucketState({ fullAtMs: 20_000, nowMs: 0 }, 3), { remaining: 2, nextUnitSeconds: 20 });
    assert.deepEqual(bucketState({ fullAtMs: 60_000, nowMs: 0 }, 3), { remaining: 0, nextUnitSeconds: 20 });
    assert.deepEqual(bucketState({ fullAtMs: 60_000, nowMs: 19_999 }, 3), { remaining: 0, nextUnitSeconds: 1 });
    assert.deepEqual(bucketState({ fullAtMs: 60_000, nowMs: 20_000 }, 3), { remaining: 1, nextUnitSeconds: 20 });
  });

  test('the RateLimit fields of a decision', () => {
    const policy = { name: 'key-writes', kind: 'write', perMinute: 300, source: 'default', bucket: 'k:x:write' } as const;
    assert.deepEqual(rateLimitHeaders({ policy, allowed: true, cost: 1, remaining: 299, nextUnitSeconds: 1, retryAfterSeconds: 0 }), {
      'RateLimit-Policy': '"key-writes";q=300;w=60',
      RateLimit: '"key-writes";r=299;t=1',
    });
    assert.equal(rateLimitHeaders({ policy, allowed: true, cost: 1, remaining: 300, nextUnitSeconds: null, retryAfterSeconds: 0 }).RateLimit, '"key-writes";r=300');
  });

  test('the wait for a cost of several units', () => {
    assert.equal(waitSeconds({ fullAtMs: 60_000, nowMs: 0 }, 3, 1), 20);
    assert.equal(waitSeconds({ fullAtMs: 60_000, nowMs: 0 }, 3, 2), 40);
    assert.equal(waitSeconds({ fullAtMs: 60_000, nowMs: 30_000 }, 3, 1), 1, 'at least a second');
  });
});

describe('rate limits over real HTTP and WebSocket', () => {
  let t: TestApp;
  let keyA: string;
  let keyB: string;
  before(async () => {
    // One trusted proxy hop, so X-Forwarded-For stands in for distinct client addresses.
    t = await startTestApp({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '3', RATE_LIMIT_READS_PER_MINUTE: '5', TRUST_PROXY_HOPS: '1' } });
    keyA = await createKey(t, 'OPERATOR');
    keyB = await createKey(t, 'OPERATOR');
  });
  after(async () => {
    await t?.close();
  });

  async function call(query: string, key: string | null, address: string): Promise<Reply> {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Reply['body'] };
  }
  const write = () => `mutation { decommissionVm(id: "${randomUUID()}") }`;
  const READ = `{ vms { totalCount } }`;

  function assertLimited(r: Reply, what: string) {
    assert.equal(r.status, 429, `${what}: ${JSON.stringify(r)}`);
    const seconds = Number(r.retryAfter);
    assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After is whole seconds: ${r.retryAfter}`);
    const ext = r.body.errors?.[0]?.extensions;
    assert.equal(ext?.code, 'FORBIDDEN');
    assert.equal(ext?.reason, 'RATE_LIMITED');
    assert.equal(ext?.retryAfterSeconds, seconds);
    assert.equal(r.body.data, undefined, 'nothing ran');
  }

  test('writes: 3 a minute per key; the 4th is 429 with Retry-After; reads have their own budget', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call(write(), keyA, '198.51.100.1');
      assert.equal(r.status, 200);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'NOT_FOUND', 'the mutation ran');
    }
    assertLimited(await call(write(), keyA, '198.51.100.1'), '4th write');
    assertLimited(await call(write(), keyA, '198.51.100.2'), 'the same key from another address');
    const read = await call(READ, keyA, '198.51.100.3');
    assert.equal(read.status, 200, 'reads are not writes');
    assert.equal(read.body.errors, undefined);
  });

  test('a valid key spends its own budget only: key B from key A\'s address is not limited (CI runners share a NAT address)', async () => {
    const r = await call(write(), keyB, '198.51.100.1');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'NOT_FOUND', 'the mutation ran');
  });

  test('callers without a key are limited per address too (reads: 5 a minute)', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await call(READ, null, '203.0.113.50');
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    }
    assertLimited(await call(READ, null, '203.0.113.50'), '6th anonymous read');
  });

  test('a mutation over the WebSocket spends the same key budget and is refused the same way', async () => {
    const client = wsClient(t.url, keyA);
    try {
      const out = await wsOperation(client, write());
      const ext = out.errors?.[0]?.extensions;
      assert.equal(ext?.code, 'FORBIDDEN', JSON.stringify(out));
      assert.equal(ext?.reason, 'RATE_LIMITED');
      assert.ok(Number(ext?.retryAfterSeconds) >= 1);
      const read = await wsOperation(client, READ);
      assert.equal(read.errors, undefined, 'reads still pass');
    } finally {
      await client.dispose();
    }
  });
});
