// Automatic persisted queries with a real client (issue 15, finding 5): Apollo Client's own
// persisted-queries link against the live server. It sends the hash alone, gets
// PERSISTED_QUERY_NOT_FOUND, retries with the query, and later sends the hash alone again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { ok, startTestApp, type TestApp } from '../support/app.js';

describe('Apollo Client with the persisted-queries link', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('first use: hash, PERSISTED_QUERY_NOT_FOUND, hash + query; then the hash alone is enough', async () => {
    ok(await t.gql(`mutation { provisionVm(input: { name: "apq-vm" }) { id } }`));
    const sent: { query?: string; extensions?: { persistedQuery?: unknown } }[] = [];
    const answers: unknown[] = [];
    // A fetch that records what the link sends and what the server answers.
    const recording: typeof fetch = async (input, init) => {
      sent.push(JSON.parse(String(init?.body)));
      const res = await fetch(input, init);
      answers.push(await res.clone().json());
      return res;
    };
    const link = createPersistedQueryLink({ sha256: (q: string) => createHash('sha256').update(q).digest('hex') }).concat(
      new HttpLink({ uri: `${t.url}/graphql`, fetch: recording, headers: { authorization: `Bearer ${t.adminKey}` } }),
    );
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const query = gql`query ApqNames { vms(first: 5) { edges { node { name } } } }`;

    const first = await client.query({ query, fetchPolicy: 'network-only' });
    assert.deepEqual(first.data.vms.edges.map((e: { node: { name: string } }) => e.node.name), ['apq-vm']);
    assert.equal(sent.length, 2, 'the link retried once');
    assert.equal(sent[0].query, undefined, 'the first request carries the hash alone');
    assert.equal((answers[0] as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    assert.ok(sent[1].query && sent[1].extensions?.persistedQuery, 'the retry carries the query and its hash');

    const second = await client.query({ query, fetchPolicy: 'network-only' });
    assert.deepEqual(second.data, first.data);
    assert.equal(sent.length, 3);
    assert.equal(sent[2].query, undefined, 'once registered, the hash alone is enough');
    client.stop();
  });
});
