// The read cache end to end (docs/read-cache.md): repeated reads answered from it byte for byte,
// a client's own writes seen at once, other processes' commits seen through the change feed, keys
// revoked anywhere refused, and reads going to PostgreSQL whenever the feed can't vouch for it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FEED_APPLICATION_NAME } from '../../src/database/change-feed.js';
import { createKey, errorCode, ok, startTestApp, type TestApp, sql } from '../support/app.js';
import { parseMetrics, value } from '../support/metrics.js';

const VM = `query($id: ID!) { vm(id: $id) { name portRules { externalPort } } }`;

async function counts(t: TestApp): Promise<Record<'hit' | 'miss' | 'bypass', number>> {
  const samples = parseMetrics(await t.app.metrics.scrape());
  const n = (outcome: string) => value(samples, 'vyos_vm_api_read_cache_requests_total', { outcome });
  return { hit: n('hit'), miss: n('miss'), bypass: n('bypass') };
}

/** What the outcome counters moved by while `fn` ran. */
async function moved(t: TestApp, fn: () => Promise<unknown>): Promise<Record<'hit' | 'miss' | 'bypass', number>> {
  const a = await counts(t);
  await fn();
  const b = await counts(t);
  return { hit: b.hit - a.hit, miss: b.miss - a.miss, bypass: b.bypass - a.bypass };
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The feed's backend process, stopped while `fn` runs (when PostgreSQL is local and ours to signal), then ended. */
async function withFeedFrozen(t: TestApp, fn: () => Promise<void>): Promise<boolean> {
  const pid = t.app.changeFeed?.backendPid;
  let frozen = false;
  if (pid) {
    const [row] = (await sql(t, 'select application_name from pg_stat_activity where pid = $1', [pid])).rows as { application_name: string }[];
    assert.equal(row?.application_name, FEED_APPLICATION_NAME, 'the feed names its connection for operators');
    try {
      process.kill(pid, 'SIGSTOP'); // the socket stays open, nothing comes back
      frozen = true;
    } catch {
      // PostgreSQL runs elsewhere or as a user we cannot signal
    }
  }
  try {
    await fn();
  } finally {
    if (frozen) {
      process.kill(pid!, 'SIGCONT');
      await sql(t, 'select pg_terminate_backend($1)', [pid]);
      // The old connection's end reaches the feed a moment after the backend is gone: until then it
      // still vouches for the cache, and its loss (bypassing the cache) would land in the next test.
      await until('a new feed connection listens', () => t.app.readCache.stats().fresh && t.app.changeFeed?.backendPid !== pid);
    }
  }
  return frozen;
}

describe('the read cache', () => {
  let t: TestApp;
  let viewer: string;
  let vmId: string;
  const read = (key = viewer) => t.gql<{ vm: { name: string; portRules: { externalPort: number }[] } }>(VM, { id: vmId }, { key });

  before(async () => {
    t = await startTestApp();
    viewer = await createKey(t, 'VIEWER');
    const made = ok(await t.gql(`mutation { provisionVm(input: { name: "cached", portRules: [{ internalPort: 22 }] }) { id } }`));
    vmId = made.provisionVm.id;
  });
  after(async () => {
    await t?.close();
  });

  test('Cache-Control: no-store computes the answer and keeps none of it (RFC 9111 §5.2.1.5)', async () => {
    const query = `{ vms(first: 7) { edges { node { name portRules { externalPort } } } } }`;
    const post = (headers: Record<string, string> = {}) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}`, ...headers },
        body: JSON.stringify({ query }),
      }).then((r) => r.json() as Promise<{ data: { vms: { edges: { node: { name: string } }[] } } }>);
    let fresh!: { data: { vms: { edges: { node: { name: string } }[] } } };
    const unkept = await moved(t, async () => {
      fresh = await post({ 'cache-control': 'no-store' });
    });
    assert.deepEqual(unkept, { hit: 0, miss: 0, bypass: 1 });
    assert.deepEqual(fresh.data.vms.edges.map((e) => e.node.name), ['cached']);
    // nothing was kept, so the next plain request is computed (and kept), the one after is a hit
    assert.deepEqual(await moved(t, () => post()), { hit: 0, miss: 1, bypass: 0 });
    assert.deepEqual(await moved(t, () => post()), { hit: 1, miss: 0, bypass: 0 });
  });

  test('a repeated read is answered from the cache with the very bytes and headers Apollo sent', async () => {
    const post = () =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}` },
        body: JSON.stringify({ query: `{ vms(first: 10) { totalCount edges { node { name portRules { ruleNumber } } } } }` }),
      });
    let first!: Response;
    let second!: Response;
    const computed = await moved(t, async () => {
      first = await post();
    });
    const cached = await moved(t, async () => {
      second = await post();
    });
    assert.deepEqual(computed, { hit: 0, miss: 1, bypass: 0 });
    assert.deepEqual(cached, { hit: 1, miss: 0, bypass: 0 });
    const samples = parseMetrics(await t.app.metrics.scrape());
    assert.equal(value(samples, 'vyos_vm_api_read_cache_fresh'), 1);
    assert.equal(value(samples, 'vyos_vm_api_read_cache_max_bytes'), 32 * 1_048_576);
    assert.equal(second.status, first.status);
    assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
    const [a, b] = [await first.text(), await second.text()];
    assert.equal(b, a);
    assert.equal(JSON.parse(b).data.vms.totalCount, 1);
  });

  test('one cached answer serves every Accept header, with the content type Apollo would choose', async () => {
    const query = `{ vms(first: 5) { edges { node { name } } } }`;
    const post = (q: string, accept?: string) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}`, ...(accept ? { accept } : {}) },
        body: JSON.stringify({ query: q }),
      });
    const apolloClient = 'application/graphql-response+json,application/json;q=0.9';
    await post(query); // computed and kept
    let hit!: Response;
    assert.equal((await moved(t, async () => (hit = await post(query, apolloClient)))).hit, 1);
    // Apollo's own choice for that header, on a query it has to compute.
    const computed = await post(`${query} `, apolloClient);
    assert.equal(hit.headers.get('content-type'), computed.headers.get('content-type'));
    assert.equal(hit.headers.get('content-type'), 'application/graphql-response+json; charset=utf-8');
    assert.equal(await hit.text(), await computed.text());
    const refused = await moved(t, async () => assert.equal((await post(query, 'text/html')).status, 406));
    assert.equal(refused.hit, 0, 'what Apollo refuses, Apollo refuses');
  });

  test('a client reads its own write at once: the reply to a mutation comes after the cache forgot', async () => {
    await read();
    const hit = await moved(t, () => read());
    assert.equal(hit.hit, 1, 'the read is cached before the write');
    // With the change feed frozen, only this process's own bookkeeping can make the next read fresh
    // (on the embedded database there is no feed at all).
    await withFeedFrozen(t, async () => {
      ok(await t.gql(`mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 80 }) { id } }`, { vm: vmId }));
      const after = ok(await read());
      assert.equal(after.vm.portRules.length, 2, 'the new rule is in the very next read');
    });
  });

  test('a change committed by another process reaches the cache through the change feed', { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL (LISTEN/NOTIFY across connections)' }, async () => {
    await read();
    assert.equal((await moved(t, () => read())).hit, 1, 'cached');
    // As another replica, a migration or an operator in psql would: not through this process.
    await sql(t, 'update vm set name = $1 where id = $2', ['renamed-by-hand', vmId]);
    await until('the change is read', async () => ok(await read()).vm.name === 'renamed-by-hand');
  });

  test('a key revoked here is refused on its next request, and an expired one when it expires, though key rows are cached', async () => {
    const q = `{ vms(first: 1) { totalCount } }`;
    const made = ok(await t.gql(`mutation($at: DateTime) { createApiKey(name: "brief", role: VIEWER, expiresAt: $at) { apiKey { id } secret } }`, { at: new Date(Date.now() + 1500).toISOString() }));
    const { secret } = made.createApiKey;
    ok(await t.gql(q, {}, { key: secret })); // the row is cached now
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(errorCode(await t.gql(q, {}, { key: secret })), 'UNAUTHENTICATED', 'expired, with no change to the row');

    const other = ok(await t.gql(`mutation { createApiKey(name: "revoked soon", role: VIEWER) { apiKey { id } secret } }`)).createApiKey;
    ok(await t.gql(q, {}, { key: other.secret }));
    await withFeedFrozen(t, async () => {
      ok(await t.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: other.apiKey.id }));
      assert.equal(errorCode(await t.gql(q, {}, { key: other.secret })), 'UNAUTHENTICATED');
    });
  });

  test('answers with errors and reads of the router are never kept', async () => {
    const bad = await moved(t, async () => {
      for (let i = 0; i < 2; i++) assert.equal(errorCode(await t.gql(`{ vms(first: -1) { totalCount } }`, {}, { key: viewer })), 'BAD_USER_INPUT');
    });
    assert.deepEqual(bad, { hit: 0, miss: 2, bypass: 0 }, 'computed twice');
    const router = await moved(t, async () => {
      for (let i = 0; i < 2; i++) ok(await t.gql(`{ syncReport { inSync } }`, {}, { key: viewer }));
    });
    assert.deepEqual(router, { hit: 0, miss: 0, bypass: 2 });
  });

  test('the role is part of the key: an answer computed for one role is not served to another', async () => {
    const q = `{ vms(first: 3) { totalCount } }`;
    await t.gql(q, {}, { key: viewer });
    const other = await moved(t, () => t.gql(q, {}, { key: t.adminKey }));
    assert.deepEqual(other, { hit: 0, miss: 1, bypass: 0 });
  });

  test('while the change feed is down, reads go to PostgreSQL; once it listens again, the cache answers again', { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL' }, async () => {
    await read();
    await sql(t, 'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = current_database()', [FEED_APPLICATION_NAME]);
    // The feed reconnects a second later: the window is wide enough to see.
    await until('the server notices', () => !t.app.readCache.stats().fresh);
    // No notification can arrive now: only going to PostgreSQL shows this.
    const down = await moved(t, async () => {
      await sql(t, 'update vm set name = $1 where id = $2', ['renamed-while-deaf', vmId]);
      assert.equal(ok(await read()).vm.name, 'renamed-while-deaf');
    });
    if (!t.app.readCache.stats().fresh) assert.deepEqual(down, { hit: 0, miss: 0, bypass: 1 });
    await until('the feed listens again', () => t.app.readCache.stats().fresh);
    await read();
    assert.equal((await moved(t, () => read())).hit, 1);
  });

  test('a feed connection that hangs without closing is noticed by its heartbeat', { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL' }, async (ctx) => {
    await read();
    const lost = async () => value(parseMetrics(await t.app.metrics.scrape()), 'vyos_vm_api_change_feed_lost_total');
    const lostBefore = await lost();
    const frozen = await withFeedFrozen(t, async () => {
      // Its notification goes nowhere: only the missed heartbeat can make the cache let go.
      await sql(t, 'update vm set name = $1 where id = $2', ['renamed-while-hung', vmId]);
      await until('the change is read', async () => ok(await read()).vm.name === 'renamed-while-hung');
    });
    if (!frozen) return ctx.skip('PostgreSQL runs elsewhere or as a user we cannot signal');
    assert.equal(await lost(), lostBefore + 1);
    await read();
    assert.equal((await moved(t, () => read())).hit, 1);
  });
});

describe('the read cache across replicas', { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL' }, () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await startTestApp();
    b = await startTestApp({ db: a.db });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a key revoked through one replica is refused by the other', async () => {
    const made = ok(await a.gql(`mutation { createApiKey(name: "short-lived", role: VIEWER) { apiKey { id } secret } }`));
    const { secret } = made.createApiKey;
    const q = `{ vms(first: 1) { totalCount } }`;
    ok(await b.gql(q, {}, { key: secret }));
    ok(await b.gql(q, {}, { key: secret })); // the key row and the answer are both cached on b now
    ok(await a.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: made.createApiKey.apiKey.id }));
    assert.equal(errorCode(await a.gql(q, {}, { key: secret })), 'UNAUTHENTICATED', 'at once where it was revoked');
    await until('the other replica refuses it', async () => errorCode(await b.gql(q, {}, { key: secret })) === 'UNAUTHENTICATED');
  });

  test('Cache-Control: no-cache reads what another replica just committed, even before the notification arrives', async (ctx) => {
    const q = `{ vms(first: 50) { edges { node { name } } } }`;
    const names = async (headers: Record<string, string> = {}) => ok(await b.gql(q, {}, { headers })).vms.edges.map((e: { node: { name: string } }) => e.node.name);
    await names();
    await names(); // cached on b
    const frozen = await withFeedFrozen(b, async () => {
      ok(await a.gql(`mutation { provisionVm(input: { name: "fresh-from-a" }) { id } }`));
      // b can't have heard of it: its feed is frozen, and its heartbeat allows 3 s.
      assert.ok((await names({ 'cache-control': 'no-cache' })).includes('fresh-from-a'));
    });
    if (!frozen) ctx.skip('PostgreSQL runs elsewhere or as a user we cannot signal');
  });

  test('a VM provisioned through one replica is listed by the other', async () => {
    const q = `{ vms(first: 50) { edges { node { name } } } }`;
    const names = async () => ok(await b.gql(q)).vms.edges.map((e: { node: { name: string } }) => e.node.name);
    await names();
    await names();
    ok(await a.gql(`mutation { provisionVm(input: { name: "from-a" }) { id } }`));
    await until('b lists it', async () => (await names()).includes('from-a'));
  });
});

describe('READ_CACHE_MAX_BYTES=0', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { READ_CACHE_MAX_BYTES: '0' } });
  });
  after(async () => {
    await t?.close();
  });

  test('every read is computed', async () => {
    const q = `{ vms(first: 1) { totalCount } }`;
    const m = await moved(t, async () => {
      for (let i = 0; i < 3; i++) ok(await t.gql(q));
    });
    assert.deepEqual(m, { hit: 0, miss: 0, bypass: 3 });
    const samples = parseMetrics(await t.app.metrics.scrape());
    assert.equal(value(samples, 'vyos_vm_api_read_cache_max_bytes'), 0, 'so the alert on freshness stays quiet');
  });
});
