// Request limits: depth, complexity, page size, body size, batching, introspection, and the
// WebSocket connection and subscription caps, over real HTTP and WebSocket.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getIntrospectionQuery, parse } from 'graphql';
import WebSocket from 'ws';
import { createAppPubSub } from '../../src/changes/events.js';
import { createSchema } from '../../src/graphql/schema.js';
import { costUnits, limitErrors, measureOperation } from '../../src/security/query-limits.js';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

// vms edges node portRules vm portRules vm portRules vm portRules id: 11 levels
const TOO_DEEP = `{ vms { edges { node { portRules { vm { portRules { vm { portRules { vm { portRules { id } } } } } } } } } } }`;
const DEEP_OK = `{ vms { edges { node { portRules { vm { portRules { vm { id } } } } } } } }`;
// 1 + 200 * (edges 1 + node 1 + portRules (1 + 10 * (vm 1 + portRules (1 + 10)))) = 24601
const TOO_COMPLEX = `{ vms(first: 200) { edges { node { portRules { vm { portRules { id } } } } } } }`;
const COMPLEX_OK = `{ vms(first: 50) { edges { node { portRules { vm { portRules { id } } } } } } }`;

describe('query cost model (pure)', () => {
  test('depth and complexity of known shapes', async () => {
    const schema = await createSchema(createAppPubSub());
    const cost = (q: string) => {
      const doc = parse(q);
      return measureOperation(schema, doc, doc.definitions[0] as never);
    };
    assert.equal(cost(TOO_DEEP).depth, 11);
    assert.equal(cost(TOO_COMPLEX).complexity, 24_601);
    assert.equal(cost(COMPLEX_OK).complexity, 6151);
    assert.equal(cost(`query($n: Int = 20) { vms(first: $n) { totalCount } }`).complexity, 21, 'a variable counts as its default');
    assert.equal(cost(`query($n: Int!) { vms(first: $n) { totalCount } }`).complexity, 201, 'or as the largest page');
    const viaFragments = cost(`{ vms { edges { node { ...V } } } } fragment V on Vm { portRules { vm { ...W } } } fragment W on Vm { id }`);
    assert.equal(viaFragments.depth, 6, 'fragments count where they are spread');
    const intro = cost(getIntrospectionQuery());
    assert.equal(intro.depth, 0, 'introspection does not count towards the data depth');
    assert.ok(intro.fullDepth < 20 && intro.complexity < 1000, JSON.stringify(intro));
  });

  test('real variables, router prices, aliases, mutation fields, units', async () => {
    const schema = await createSchema(createAppPubSub());
    const cost = (q: string, variables?: Record<string, unknown>) => {
      const doc = parse(q);
      return measureOperation(schema, doc, doc.definitions[0] as never, variables);
    };
    const page = `query($n: Int) { vms(first: $n) { totalCount } }`;
    assert.equal(cost(page, { n: 5 }).complexity, 6, 'the value sent');
    assert.equal(cost(page, {}).complexity, 51, 'not sent: the argument default (50)');
    assert.equal(cost(`{ vms { totalCount } }`).complexity, 51, 'absent: the argument default');
    assert.equal(cost(`{ syncReport { inSync } }`).complexity, 10_001);
    assert.equal(cost(`{ health { status } }`).complexity, 1001);
    const three = cost(`mutation { a: decommissionVm(id: "x") b: decommissionVm(id: "y") ...M } fragment M on Mutation { c: removePortRule(id: "z") }`);
    assert.deepEqual([three.mutationFields, three.aliases, three.complexity, costUnits(three)], [3, 3, 3000, 3]);
    assert.equal(costUnits(cost(`{ __typename }`)), 1, 'at least one unit');
    // each fragment spreads the next twice: 2^30 fields if walked naively, priced in linear time
    const bomb = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { a: __typename ...F${i + 1} b: __typename ...F${i + 1} }`).join(' ') + ' fragment F30 on Query { __typename }';
    const started = performance.now();
    const huge = cost(`{ ...F0 } ${bomb}`);
    assert.ok(performance.now() - started < 500, 'measured quickly');
    assert.ok(huge.aliases > 1_000_000, 'and counted in full');
    const errors = limitErrors(huge, { maxDepth: 10, maxComplexity: 20_000, maxAliases: 20, maxMutationFields: 10 });
    assert.deepEqual(errors.map((e) => e.extensions.reason), ['QUERY_TOO_COMPLEX', 'TOO_MANY_ALIASES']);
  });
});

describe('limits with the default settings', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('depth: 11 levels are refused before any resolver runs; 7 pass', async () => {
    const res = await t.gql(TOO_DEEP);
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    assert.match(res.errors![0].message, /query depth 11 exceeds the limit of 10 \(MAX_QUERY_DEPTH\)/);
    assert.equal(res.errors![0].extensions?.reason, 'QUERY_TOO_DEEP');
    assert.equal(res.data, undefined);
    ok(await t.gql(DEEP_OK));
  });

  test('complexity: 200 VMs with nested lists are refused, 50 pass', async () => {
    const res = await t.gql(TOO_COMPLEX);
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    assert.match(res.errors![0].message, /query complexity 24601 exceeds the limit of 20000 \(MAX_QUERY_COMPLEXITY\)/);
    ok(await t.gql(COMPLEX_OK));
  });

  test('an alias flood is priced like the fields it repeats', async () => {
    const flood = `{ ${Array.from({ length: 120 }, (_, i) => `a${i}: vms(first: 200) { totalCount }`).join(' ')} }`;
    const res = await t.gql(flood);
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    assert.match(res.errors![0].message, /complexity/);
  });

  test('the same limits hold over the WebSocket', async () => {
    const client = wsClient(t.url, t.adminKey);
    try {
      for (const q of [TOO_DEEP, TOO_COMPLEX]) {
        const out = await wsOperation(client, q);
        assert.equal(out.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(out));
        assert.match(out.errors![0].message, /exceeds the limit/);
      }
      const deepSub = await wsOperation(client, `subscription { rollbackEvents { commands { path } id } }`);
      assert.equal(deepSub.streaming, true, 'a normal subscription starts');
    } finally {
      await client.dispose();
    }
  });

  test('page size: first above 200 or below 1 is BAD_USER_INPUT', async () => {
    for (const first of [201, 0, -1, 100_000]) {
      assert.equal(errorCode(await t.gql(`query($f: Int!) { vms(first: $f) { totalCount } }`, { f: first })), 'BAD_USER_INPUT', `first: ${first}`);
    }
    ok(await t.gql(`{ vms(first: 200) { totalCount } }`));
  });

  test('batched requests are refused (Apollo batching stays off) and run nothing', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify([
        { query: `mutation { provisionVm(input: { name: "batched-1" }) { id } }` },
        { query: `mutation { provisionVm(input: { name: "batched-2" }) { id } }` },
      ]),
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /batching/i);
    assert.equal(ok(await t.gql(`{ vms { totalCount } }`)).vms.totalCount, 0);
  });

  test('introspection is on by default (the standard query passes the limits)', async () => {
    const data = ok(await t.gql(getIntrospectionQuery()));
    assert.ok(data.__schema.types.length > 10);
  });
});

describe('limits with tight settings', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      env: { MAX_BODY_BYTES: '4096', GRAPHQL_INTROSPECTION: 'false', WS_MAX_CONNECTIONS_PER_KEY: '2', WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2' },
    });
  });
  after(async () => {
    await t?.close();
  });

  test('a body over MAX_BODY_BYTES is 413 with a JSON GraphQL error, not HTML', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: `mutation { provisionVm(input: { name: "big", portRules: [{ internalPort: 80, description: "${'x'.repeat(5000)}" }] }) { id } }` }),
    });
    assert.equal(res.status, 413);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    assert.deepEqual(body.errors[0].extensions, { code: 'BAD_USER_INPUT', reason: 'BODY_TOO_LARGE', limitBytes: 4096 });
    assert.match(body.errors[0].message, /MAX_BODY_BYTES/);
    assert.equal(ok(await t.gql(`{ vms { totalCount } }`)).vms.totalCount, 0);
  });

  test('GRAPHQL_INTROSPECTION=false: __schema and __type refused on HTTP and WebSocket, __typename still fine, no IDE page', async () => {
    assert.equal(errorCode(await t.gql(`{ __schema { types { name } } }`)), 'BAD_USER_INPUT');
    assert.equal(errorCode(await t.gql(`{ __type(name: "Vm") { name } }`)), 'BAD_USER_INPUT');
    assert.equal(ok(await t.gql(`{ __typename }`)).__typename, 'Query');
    const client = wsClient(t.url, t.adminKey);
    try {
      const out = await wsOperation(client, `{ __schema { queryType { name } } }`);
      assert.equal(out.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(out));
      assert.equal(out.data, undefined);
    } finally {
      await client.dispose();
    }
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.doesNotMatch(page.headers.get('content-type') ?? '', /text\/html/, 'the IDE is off with introspection');
  });

  test('WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: the third subscription on one socket is FORBIDDEN; ending one frees a slot', async () => {
    const client = wsClient(t.url, t.adminKey);
    const ends: (() => void)[] = [];
    try {
      const open = () => {
        let first: unknown;
        const done = new Promise<unknown>((resolve) => {
          ends.push(
            client.subscribe({ query: `subscription { rollbackEvents { id } }` }, { next: (v) => resolve((first = v)), error: (e) => resolve((first = e)), complete: () => resolve(first) }),
          );
          setTimeout(() => resolve('running'), 300);
        });
        return done;
      };
      assert.equal(await open(), 'running');
      assert.equal(await open(), 'running');
      const third = (await open()) as { extensions?: Record<string, unknown> }[];
      assert.equal(third?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(third));
      assert.equal(third[0].extensions?.reason, 'TOO_MANY_SUBSCRIPTIONS');
      ends[0]();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await open(), 'running', 'a completed subscription frees its slot');
    } finally {
      ends.forEach((end) => end());
      await client.dispose();
    }
  });

  test('WS_MAX_CONNECTIONS_PER_KEY: the third socket of one key is closed with 4429; another key is unaffected', async () => {
    const sockets: WebSocket[] = [];
    const connect = (key: string) =>
      new Promise<{ ack: boolean; code?: number }>((resolve) => {
        const ws = new WebSocket(t.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
        sockets.push(ws);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
        ws.on('message', (m) => {
          if (JSON.parse(String(m)).type === 'connection_ack') resolve({ ack: true });
        });
        ws.on('close', (code) => resolve({ ack: false, code }));
      });
    try {
      assert.deepEqual(await connect(t.adminKey), { ack: true });
      assert.deepEqual(await connect(t.adminKey), { ack: true });
      assert.deepEqual(await connect(t.adminKey), { ack: false, code: 4429 });
      assert.deepEqual(await connect(await createKey(t, 'VIEWER')), { ack: true });
      sockets[0].close();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await connect(t.adminKey), { ack: true }, 'a closed socket frees its slot');
    } finally {
      sockets.forEach((s) => s.close());
    }
  });
});
