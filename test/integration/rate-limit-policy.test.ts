// Rate limits as automation meets them (issue 15, finding 2): one budget shared by every replica
// (counted in PostgreSQL), charged by what a document costs, defaults that let the documented batch
// workload through, per-key limits set by an ADMIN, and the IETF RateLimit / RateLimit-Policy fields.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

interface Reply {
  status: number;
  headers: Headers;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<Reply> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Reply['body'] };
}

/** A write that runs and changes nothing: decommissioning a VM that does not exist. */
const WRITE = () => `mutation { decommissionVm(id: "${randomUUID()}") }`;
const ADD = `mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { id } }`;

function assertLimited(r: Reply, what: string): void {
  assert.equal(r.status, 429, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  assert.equal(r.body.errors?.[0]?.extensions?.reason, 'RATE_LIMITED');
  assert.equal(r.body.data ?? undefined, undefined);
}

function assertRan(r: Reply, what: string): void {
  assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors?.[0]?.extensions?.code, 'NOT_FOUND', `${what} ran`);
}

describe('one rate limit for two server processes on one database', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (TEST_DATABASE_URL)' }, () => {
  let t: TestApp;
  let replicas: ServerProcess[] = [];
  let key: string;
  before(async () => {
    t = await startTestApp();
    const env = { DATABASE_URL: t.db.url, VYOS_URL: t.sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: t.adminKey, RATE_LIMIT_WRITES_PER_MINUTE: '3' };
    replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    key = await createKey(t, 'OPERATOR');
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await t?.close();
  });

  test('3 writes a minute per key means 3 across both processes, not 3 each', async () => {
    const [a, b] = replicas;
    assertRan(await post(a.url, key, WRITE()), 'A 1');
    assertRan(await post(b.url, key, WRITE()), 'B 1');
    assertRan(await post(a.url, key, WRITE()), 'A 2');
    assertLimited(await post(b.url, key, WRITE()), 'B 2 (the 4th write of the key)');
    assertLimited(await post(a.url, key, WRITE()), 'A 3');
  });
});

describe('the default limits', () => {
  let t: TestApp;
  before(async () => {
    // '' = the variable unset: the server's defaults (startTestApp turns the limits off otherwise)
    t = await startTestApp({ sim: { commitLatencyMs: 100 }, env: { RATE_LIMIT_WRITES_PER_MINUTE: '', RATE_LIMIT_READS_PER_MINUTE: '' } });
  });
  after(async () => {
    await t?.close();
  });

  test('an OPERATOR key runs 100 concurrent addPortRule and a check; an ADMIN key then reconciles', async () => {
    const operator = await createKey(t, 'OPERATOR');
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "workload" }) { id } }`, undefined, { key: operator })).provisionVm.id;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => post(t.url, operator, ADD, { vm, p: 1000 + i })));
    const refused = results.filter((r) => r.status !== 200 || r.body.errors);
    assert.equal(refused.length, 0, JSON.stringify(refused[0]?.body));
    ok(await t.gql(`{ syncReport { inSync } vms { totalCount } }`, undefined, { key: operator }));
    const reconciled = ok(await t.gql(`mutation { reconcile(mode: MERGED) { applied report { inSync } } }`));
    assert.equal(reconciled.reconcile.report.inSync, true);
  });

  test('and still stop a runaway loop: 400 more writes of one key are cut off', async () => {
    const key = await createKey(t, 'OPERATOR');
    const replies = await Promise.all(Array.from({ length: 400 }, () => post(t.url, key, WRITE())));
    const limited = replies.filter((r) => r.status === 429).length;
    assert.ok(limited > 0 && limited < 400, `${limited} of 400 refused`);
    replies.filter((r) => r.status === 429).forEach((r) => assertLimited(r, 'runaway'));
  });
});

describe('per-key limits and the RateLimit fields', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '3', RATE_LIMIT_READS_PER_MINUTE: '30' } });
  });
  after(async () => {
    await t?.close();
  });

  test('an ADMIN sets a key\'s own limits at createApiKey; they are shown and enforced', async () => {
    const created = ok(
      await t.gql(`mutation { createApiKey(name: "ci-batch", role: OPERATOR, writesPerMinute: 5, readsPerMinute: 100) { secret apiKey { id writesPerMinute readsPerMinute } } }`),
    ).createApiKey;
    assert.equal(created.apiKey.writesPerMinute, 5);
    assert.equal(created.apiKey.readsPerMinute, 100);
    const listed = ok(await t.gql(`{ apiKeys { id writesPerMinute readsPerMinute } }`)).apiKeys.find((k: { id: string }) => k.id === created.apiKey.id);
    assert.deepEqual(listed, { id: created.apiKey.id, writesPerMinute: 5, readsPerMinute: 100 });
    for (let i = 0; i < 5; i++) assertRan(await post(t.url, created.secret, WRITE()), `write ${i + 1} of 5`);
    const sixth = await post(t.url, created.secret, WRITE());
    assertLimited(sixth, '6th write');
    assert.match(sixth.body.errors![0].message, /5 write/);
    assert.equal(sixth.headers.get('ratelimit-policy'), '"key-writes";q=5;w=60');
    // the server default (3) still holds for a key without its own limit
    const plain = await createKey(t, 'OPERATOR');
    for (let i = 0; i < 3; i++) assertRan(await post(t.url, plain, WRITE()), `default key write ${i + 1}`);
    assertLimited(await post(t.url, plain, WRITE()), 'default key 4th write');
  });

  test('a per-key limit is validated', async () => {
    const res = await t.gql(`mutation { createApiKey(name: "bad", role: VIEWER, readsPerMinute: -1) { secret } }`);
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
  });

  test('RateLimit-Policy and RateLimit on every answer, charged by cost; 429 agrees with Retry-After', async () => {
    const key = await createKey(t, 'OPERATOR');
    const first = await post(t.url, key, WRITE());
    assertRan(first, 'first write');
    assert.equal(first.headers.get('ratelimit-policy'), '"key-writes";q=3;w=60');
    assert.equal(first.headers.get('ratelimit'), '"key-writes";r=2;t=20');

    // two root mutation fields in one document cost two writes
    const two = await post(t.url, key, `mutation { a: decommissionVm(id: "${randomUUID()}") b: decommissionVm(id: "${randomUUID()}") }`);
    assert.equal(two.status, 200, JSON.stringify(two.body));
    assert.match(two.headers.get('ratelimit') ?? '', /^"key-writes";r=0;t=(19|20)$/);

    const refused = await post(t.url, key, WRITE());
    assertLimited(refused, 'over the limit');
    const m = /^"key-writes";r=0;t=(\d+)$/.exec(refused.headers.get('ratelimit') ?? '');
    assert.ok(m, `RateLimit on a 429: ${refused.headers.get('ratelimit')}`);
    assert.ok(Number(refused.headers.get('retry-after')) >= Number(m[1]), 'Retry-After is not earlier than t');
    assert.equal(refused.body.errors![0].extensions?.retryAfterSeconds, Number(refused.headers.get('retry-after')));

    // reads have their own policy; a router read (syncReport) costs ten units
    const read = await post(t.url, key, `{ syncReport { inSync } }`);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.headers.get('ratelimit-policy'), '"key-reads";q=30;w=60');
    assert.match(read.headers.get('ratelimit') ?? '', /^"key-reads";r=20;t=\d+$/);
  });

  test('callers without a key are counted per address, under their own policy name', async () => {
    const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ vms { totalCount } }' }) });
    assert.equal(res.headers.get('ratelimit-policy'), '"address-reads";q=30;w=60');
    assert.match(res.headers.get('ratelimit') ?? '', /^"address-reads";r=29;t=\d+$/);
  });
});
