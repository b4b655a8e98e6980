// Automatic persisted queries (issue 15, finding 5): the APQ protocol's own replies reach the
// client unmasked, a full round trip works over POST and GET, a bare hash of a mutation is a
// write for the rate limiter, and none of it is logged as an internal error.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { ok, startTestApp, type GqlResponse, type TestApp } from '../support/app.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const persisted = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256(query) } });

describe('automatic persisted queries', () => {
  let t: TestApp;
  const lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });

  before(async () => {
    t = await startTestApp({ logger: createLogger('debug', sink), env: { LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    await t?.close();
  });

  async function post(body: Record<string, unknown>, key: string | null = t.adminKey): Promise<{ status: number; body: GqlResponse<any> }> {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as GqlResponse<any> };
  }

  test('hash alone -> PERSISTED_QUERY_NOT_FOUND; hash + query -> data; hash alone -> data (POST)', async () => {
    const query = 'query ApqHealth { health { status } }';
    const miss = await post({ extensions: persisted(query) });
    assert.equal(miss.status, 200);
    assert.equal(miss.body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', JSON.stringify(miss.body));
    assert.equal(miss.body.errors?.[0]?.message, 'PersistedQueryNotFound', 'the message Apollo Client links also look for');

    const register = await post({ query, extensions: persisted(query) });
    assert.equal(register.status, 200);
    assert.ok(ok(register.body).health.status);

    const hit = await post({ extensions: persisted(query) });
    assert.equal(hit.status, 200);
    assert.ok(ok(hit.body).health.status, JSON.stringify(hit.body));
  });

  test('the same round trip over GET, with variables', async () => {
    const query = 'query ApqVms($first: Int) { vms(first: $first) { totalCount } }';
    const get = async (withQuery: boolean) => {
      const params = new URLSearchParams({ variables: JSON.stringify({ first: 3 }), extensions: JSON.stringify(persisted(query)) });
      if (withQuery) params.set('query', query);
      const res = await fetch(`${t.url}/graphql?${params}`, { headers: { authorization: `Bearer ${t.adminKey}`, 'apollo-require-preflight': 'true' } });
      return { status: res.status, body: (await res.json()) as GqlResponse<any> };
    };
    assert.equal((await get(false)).body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
    assert.equal(ok((await get(true)).body).vms.totalCount, 0);
    assert.equal(ok((await get(false)).body).vms.totalCount, 0);
  });

  test('a hash that does not match its query, or an unknown APQ version, is bad input (400), not an internal error', async () => {
    const query = '{ health { status } }';
    const mismatch = await post({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ vms { totalCount } }') } } });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(mismatch.body));
    const version = await post({ query, extensions: { persistedQuery: { version: 2, sha256Hash: sha256(query) } } });
    assert.equal(version.status, 400);
    assert.equal(version.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(version.body));
  });

  test('a persisted query still needs a key', async () => {
    const query = 'query ApqSecret { vms { totalCount } }';
    ok((await post({ query, extensions: persisted(query) })).body);
    const anonymous = await post({ extensions: persisted(query) }, null);
    assert.equal(anonymous.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  // metrics.ts knows the protocol codes (ProtocolCode, domain/errors.ts): a client outcome, not VyosVmApiErrorRateHigh's.
  test('an APQ miss is not a server error in the metrics or the request line', () => {
    const misses = lines.filter((l) => l.msg === 'request' && JSON.stringify(l.errorCodes ?? []).match(/PERSISTED_QUERY|other/));
    assert.ok(misses.length > 0);
    assert.deepEqual(misses.filter((l) => l.level === 'error' || l.outcome === 'server_error'), []);
  });

  test('no APQ reply is logged as an internal error, or above debug', () => {
    const apq = lines.filter((l) => JSON.stringify(l).includes('PERSISTED_QUERY'));
    assert.ok(apq.length > 0, 'the protocol replies are logged');
    assert.deepEqual(apq.filter((l) => l.msg !== 'request' && l.level !== 'debug'), []);
    assert.deepEqual(lines.filter((l) => /internal error/.test(l.msg)), []);
  });
});

describe('a mutation sent as a bare hash is a write', () => {
  test('the write limit counts it', async () => {
    const t = await startTestApp({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '2', RATE_LIMIT_READS_PER_MINUTE: '1000' } });
    try {
      const query = 'mutation ApqDecommission { decommissionVm(id: "00000000-0000-4000-8000-000000000000") }';
      const send = (body: Record<string, unknown>) =>
        fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body: JSON.stringify(body) });
      assert.equal((await send({ query, extensions: persisted(query) })).status, 200, 'write 1 registers the query');
      assert.equal((await send({ extensions: persisted(query) })).status, 200, 'write 2');
      const third = await send({ extensions: persisted(query) });
      assert.equal(third.status, 429, 'write 3 by hash alone is over the write limit');
    } finally {
      await t.close();
    }
  });
});
