// Error hygiene (issue 15, finding 6): no stack trace leaves the server whatever NODE_ENV says,
// and with introspection off no "Did you mean …" hint reveals schema names, over HTTP and
// WebSocket alike.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, startTestApp, type GqlResponse, type TestApp } from '../support/app.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

/** Requests refused with errors graphql-js or Apollo make themselves (not errors.ts). */
const REFUSED: [string, string, Record<string, unknown>][] = [
  ['variable coercion (a string for an Int)', 'query($first: Int) { vms(first: $first) { totalCount } }', { first: 'fifty' }],
  ['a missing non-null variable', 'query($id: ID!) { vm(id: $id) { id } }', {}],
  ['scalar parsing of a variable (IPv4)', 'mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }', { input: { name: 'scalar-vm', internalIp: '999.1.2.3' } }],
  ['scalar parsing of a variable (Port)', 'mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { id } }', { vm: '00000000-0000-4000-8000-000000000000', p: 'eighty' }],
  ['scalar parsing of a literal (IPv4)', 'mutation { provisionVm(input: { name: "literal-vm", internalIp: "999.1.2.3" }) { id } }', {}],
  ['an enum value that does not exist', 'mutation($m: ReconcileMode) { reconcile(mode: $m) { applied } }', { m: 'MERGE' }],
  ['an unknown input field', 'mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id } }', { input: { nmae: 'typo' } }],
  ['an unknown field', '{ vmss { totalCount } }', {}],
  ['an unknown argument', '{ vms(frist: 2) { totalCount } }', {}],
  ['an unknown type', 'query($x: Protocl) { vms { totalCount } }', {}],
  ['a syntax error', '{ vms { totalCount }', {}],
];

async function post(t: TestApp, query: string, variables: Record<string, unknown>, key: string | null): Promise<{ text: string; body: GqlResponse<unknown> }> {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, body: JSON.parse(text) };
}

describe('no stack trace with NODE_ENV unset', () => {
  let t: TestApp;
  let saved: string | undefined;
  before(async () => {
    saved = process.env.NODE_ENV;
    // Apollo decides at construction: unset is what `npm start` and the systemd unit give it.
    delete process.env.NODE_ENV;
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
    if (saved !== undefined) process.env.NODE_ENV = saved;
  });

  for (const [name, query, variables] of REFUSED) {
    test(`${name}: BAD_USER_INPUT, no stacktrace (HTTP and WebSocket)`, async () => {
      const { text, body } = await post(t, query, variables, t.adminKey);
      assert.equal(body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', text);
      assert.doesNotMatch(text, /stacktrace|\.js:\d+/, text);

      const ws = wsClient(t.url, t.adminKey);
      try {
        const out = await wsOperation(ws, query, variables);
        const seen = JSON.stringify(out);
        // An error reply, never a closed socket (graphql-ws closes with 4500 on a syntax error left to it).
        assert.equal(out.closeCode, undefined, seen);
        assert.equal(out.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', seen);
        assert.doesNotMatch(seen, /stacktrace|\.js:\d+/, seen);
      } finally {
        await ws.dispose();
      }
    });
  }
});

describe('found by the fuzz run (test/integration/schema-fuzz.test.ts)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('a document that does not parse, over WebSocket: BAD_USER_INPUT, and the socket stays open', async () => {
    const ws = wsClient(t.url, t.adminKey);
    try {
      const broken = await wsOperation(ws, '{ vms { edges { node { portRules { ');
      assert.equal(broken.closeCode, undefined, JSON.stringify(broken));
      assert.equal(broken.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      assert.equal(broken.errors?.[0]?.extensions?.reason, 'GRAPHQL_PARSE_FAILED');
      const next = await wsOperation(ws, '{ vms { totalCount } }');
      assert.deepEqual(next.errors, undefined, 'the same socket answers the next operation');
    } finally {
      await ws.dispose();
    }
  });

  test('a subscription sent over HTTP: BAD_USER_INPUT naming the WebSocket, not an internal error', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${t.adminKey}` },
        body: JSON.stringify({ query: 'subscription { rollbackEvents { id } }' }),
      });
      const text = await res.text();
      assert.equal(res.status, accept === 'application/json' ? 200 : 400, text);
      const body = JSON.parse(text);
      assert.equal(body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', text);
      assert.equal(body.errors?.[0]?.extensions?.reason, 'SUBSCRIPTION_OVER_HTTP');
      assert.match(body.errors[0].message, /WebSocket/);
    }
  });
});

describe('GRAPHQL_INTROSPECTION=false: no schema hints', () => {
  let t: TestApp;
  let viewer: string;
  before(async () => {
    t = await startTestApp({ env: { GRAPHQL_INTROSPECTION: 'false' } });
    viewer = await createKey(t, 'VIEWER');
  });
  after(async () => {
    await t?.close();
  });

  test('no "Did you mean" for anonymous callers or keys, over HTTP', async () => {
    for (const key of [null, viewer, t.adminKey]) {
      for (const [name, query, variables] of REFUSED) {
        const { text, body } = await post(t, query, variables, key);
        assert.ok(body.errors?.length, `${name}: refused`);
        assert.doesNotMatch(text, /did you mean/i, `${name} (${key ? 'key' : 'anonymous'}): ${text}`);
      }
    }
  });

  test('no "Did you mean" over WebSocket', async () => {
    const ws = wsClient(t.url, viewer);
    try {
      for (const [name, query, variables] of REFUSED) {
        const out = await wsOperation(ws, query, variables);
        assert.doesNotMatch(JSON.stringify(out), /did you mean/i, `${name}: ${JSON.stringify(out)}`);
      }
    } finally {
      await ws.dispose();
    }
  });
});

describe('introspection on (the default): hints stay for the people in the IDE', () => {
  test('an unknown field is answered with a suggestion', async () => {
    const t = await startTestApp();
    try {
      const { text } = await post(t, '{ vmss { totalCount } }', {}, null);
      assert.match(text, /Did you mean \\"vms\\"/);
    } finally {
      await t.close();
    }
  });
});
