// GraphQL-over-HTTP status codes (issue 15, finding 14): a well-formed request whose document
// fails to parse, validate or take its variables is 200 for `Accept: application/json` and 400
// for `Accept: application/graphql-response+json`; a request that is not well-formed is 400 for both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

const REQUEST_ERRORS: [string, Record<string, unknown>][] = [
  ['a document that does not parse', { query: '{ vms { totalCount }' }],
  ['a document that does not validate', { query: '{ noSuchField }' }],
  ['a variable that does not coerce', { query: 'query($first: Int) { vms(first: $first) { totalCount } }', variables: { first: 'ten' } }],
  ['a missing required variable', { query: 'query($id: ID!) { vm(id: $id) { id } }' }],
  ['an operation name the document does not have', { query: 'query A { __typename }', operationName: 'B' }],
  ['a query over the depth limit', { query: `{ vms { edges { node { portRules { vm { portRules { vm { portRules { vm { portRules { vm { id } } } } } } } } } } } }` }],
];

describe('GraphQL-over-HTTP status codes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  async function send(body: unknown, accept?: string) {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}`, ...(accept ? { accept } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] }, text };
  }

  for (const [name, body] of REQUEST_ERRORS) {
    test(`${name}: 200 for application/json (and no Accept), 400 for application/graphql-response+json`, async () => {
      for (const accept of [JSON_TYPE, undefined, '*/*']) {
        const r = await send(body, accept);
        assert.equal(r.status, 200, `${accept}: ${r.text}`);
        assert.match(r.type, /^application\/json/);
        assert.equal(r.body.data, undefined, 'no data entry');
        assert.equal(r.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', r.text);
      }
      const r = await send(body, GRAPHQL_RESPONSE);
      assert.equal(r.status, 400, r.text);
      assert.match(r.type, /^application\/graphql-response\+json/);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', r.text);
    });
  }

  test('requests that are not well-formed GraphQL-over-HTTP stay 400 for both types', async () => {
    for (const accept of [JSON_TYPE, GRAPHQL_RESPONSE]) {
      assert.equal((await send({ variables: {} }, accept)).status, 400, `no query (${accept})`);
      assert.equal((await send('{"query": ', accept)).status, 400, `malformed JSON (${accept})`);
      assert.equal((await send([{ query: '{ __typename }' }, { query: '{ __typename }' }], accept)).status, 400, `a batch (${accept})`);
    }
  });

  test('results with data are 200 for both types, errors or not', async () => {
    for (const accept of [JSON_TYPE, GRAPHQL_RESPONSE]) {
      const okay = await send({ query: '{ vms { totalCount } }' }, accept);
      assert.equal(okay.status, 200);
      const missing = await send({ query: 'mutation { decommissionVm(id: "00000000-0000-4000-8000-000000000000") }' }, accept);
      assert.equal(missing.status, 200, missing.text);
      assert.equal(missing.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    }
  });
});
