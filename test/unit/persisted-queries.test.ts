// The APQ document store: bounded by size, least recently used out first, read by hash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PersistedQueryStore, persistedQueryHash } from '../../src/graphql/persisted-queries.js';

test('documents are found by the hash Apollo stores them under', async () => {
  const store = new PersistedQueryStore();
  await store.set('apq:abc', '{ vms { totalCount } }');
  assert.equal(store.documentFor('abc'), '{ vms { totalCount } }');
  assert.equal(await store.get('apq:abc'), '{ vms { totalCount } }');
  assert.equal(store.documentFor('other'), undefined);
  assert.equal(await store.delete('apq:abc'), true);
  assert.equal(store.documentFor('abc'), undefined);
});

test('past maxBytes the least recently used documents go', async () => {
  const store = new PersistedQueryStore(30);
  await store.set('apq:a', 'x'.repeat(10));
  await store.set('apq:b', 'y'.repeat(10));
  await store.get('apq:a'); // a is now the younger
  await store.set('apq:c', 'z'.repeat(15));
  assert.equal(store.documentFor('b'), undefined, 'b was the least recently used');
  assert.ok(store.documentFor('a'));
  assert.ok(store.documentFor('c'));
  await store.set('apq:huge', 'h'.repeat(31));
  assert.equal(store.documentFor('huge'), undefined, 'a document larger than the store is not kept');
  assert.equal(store.size, 2);
});

test('the hash comes from a POST body object or a GET query-string JSON', () => {
  const ext = { persistedQuery: { version: 1, sha256Hash: 'f00' } };
  assert.equal(persistedQueryHash(ext), 'f00');
  assert.equal(persistedQueryHash(JSON.stringify(ext)), 'f00');
  assert.equal(persistedQueryHash('{not json'), undefined);
  assert.equal(persistedQueryHash({ persistedQuery: { sha256Hash: 5 } }), undefined);
  assert.equal(persistedQueryHash(undefined), undefined);
});
