// The read cache's rules (docs/read-cache.md), without a server: what may be cached, how answers
// are kept per generation of the change clock, and how the size bound evicts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse, type OperationDefinitionNode } from 'graphql';
import { ChangeClock, changesData } from '../../src/database/change-clock.js';
import { answerBody, answerContentType, cacheKey, isCacheable, ReadCache, wantsFreshAnswer } from '../../src/graphql/read-cache.js';

const op = (source: string) => parse(source).definitions[0] as OperationDefinitionNode;
const answer = (body: string) => ({ body, operation: 'vms' });

describe('which operations the read cache takes', () => {
  test('queries of database-only root fields, alone or together', () => {
    assert.equal(isCacheable(op('{ vms { edges { node { id } } } }')), true);
    assert.equal(isCacheable(op('query Q($id: ID!) { vm(id: $id) { name } portRule(id: $id) { id } __typename }')), true);
    assert.equal(isCacheable(op('{ rollbackEvents(first: 5) { totalCount } }')), true);
  });

  test('never mutations, subscriptions, router or wall-clock reads, or unanalysed shapes', () => {
    assert.equal(isCacheable(op('mutation { decommissionVm(id: "x") }')), false);
    assert.equal(isCacheable(op('subscription { rollbackEvents { id } }')), false);
    assert.equal(isCacheable(op('{ syncReport { inSync } }')), false, 'syncReport reads the router');
    assert.equal(isCacheable(op('{ vms { totalCount } health { status } }')), false, 'one uncacheable field spoils the whole query');
    assert.equal(isCacheable(op('{ apiKeys { id } }')), false, 'expiry changes with time alone');
    assert.equal(isCacheable(op('{ snapshots { id } }')), false);
    assert.equal(isCacheable(op('{ ...F } fragment F on Query { vms { totalCount } }')), false);
    assert.equal(isCacheable(op('{ __typename }')), false);
  });

  test('keys tell roles, operation names and variables apart', () => {
    const q = 'query A($n: Int) { vms(first: $n) { totalCount } }';
    const keys = new Set([
      cacheKey('VIEWER', q, 'A', { n: 1 }),
      cacheKey('ADMIN', q, 'A', { n: 1 }),
      cacheKey('VIEWER', q, 'A', { n: 2 }),
      cacheKey('VIEWER', q, null, { n: 1 }),
      cacheKey('VIEWER', `${q} `, 'A', { n: 1 }),
    ]);
    assert.equal(keys.size, 5);
    assert.equal(cacheKey('VIEWER', q, undefined, undefined), cacheKey('VIEWER', q, null, {}));
  });

  test('the content type is chosen from Accept as Apollo chooses it', () => {
    assert.equal(answerContentType(undefined), 'application/json; charset=utf-8');
    assert.equal(answerContentType('*/*'), 'application/json; charset=utf-8');
    assert.equal(answerContentType('application/graphql-response+json,application/json;q=0.9'), 'application/graphql-response+json; charset=utf-8');
    assert.equal(answerContentType('application/json, text/plain, */*'), 'application/json; charset=utf-8');
    assert.equal(answerContentType('text/html'), null, 'Apollo answers 406');
  });

  test('Cache-Control no-cache, no-store or max-age=0 asks for an answer computed now', () => {
    for (const v of ['no-cache', 'no-store', 'max-age=0', 'private, no-cache', 'max-age = 0', 'No-Cache']) assert.equal(wantsFreshAnswer(v), true, v);
    for (const v of [undefined, '', 'max-age=60', 'max-age=00x', 'private']) assert.equal(wantsFreshAnswer(v), false, String(v));
  });

  test('the body is what Apollo writes for data without errors', () => {
    assert.equal(answerBody({ vms: { totalCount: 2 } }), '{"data":{"vms":{"totalCount":2}}}\n');
  });
});

describe('the change clock', () => {
  test('statements that may change rows tick it; plain reads do not', () => {
    for (const sql of ['insert into vm values (1)', 'update port_rule set enabled = false', 'delete from vm', 'with x as (delete from vm returning id) select * from x', 'COMMIT;', 'truncate vm']) {
      assert.equal(changesData(sql), true, sql);
    }
    for (const sql of ['select 1', '  SELECT id from vm', 'show server_version']) assert.equal(changesData(sql), false, sql);
  });
});

describe('ReadCache', () => {
  test('an answer is served in the generation it was computed in, and dropped at the next tick', () => {
    const clock = new ChangeClock(true);
    const cache = new ReadCache(clock, 1000);
    const g = cache.generation;
    cache.set('k', g, answer('{"data":1}\n'));
    assert.equal(cache.get('k')?.body, '{"data":1}\n');
    clock.tick();
    assert.equal(cache.get('k'), undefined);
    assert.deepEqual(cache.stats(), { maxBytes: 1000, entries: 0, bytes: 0, fresh: true });
  });

  test('an answer computed while a change happened is not kept', () => {
    const clock = new ChangeClock(true);
    const cache = new ReadCache(clock, 1000);
    const g = cache.generation;
    clock.tick(); // a commit lands while the answer is being computed
    cache.set('k', g, answer('old'));
    assert.equal(cache.get('k'), undefined);
  });

  test('stands aside while the clock is not trusted, and forgets what it held', () => {
    const clock = new ChangeClock(true);
    const cache = new ReadCache(clock, 1000);
    cache.set('k', cache.generation, answer('a'));
    clock.setTrusted(false);
    assert.equal(cache.active, false);
    cache.set('k2', cache.generation, answer('b'));
    assert.equal(cache.get('k2'), undefined);
    clock.setTrusted(true);
    assert.equal(cache.get('k'), undefined, 'what was cached before the gap is gone');
  });

  test('READ_CACHE_MAX_BYTES=0 keeps nothing', () => {
    const cache = new ReadCache(new ChangeClock(true), 0);
    cache.set('k', cache.generation, answer('a'));
    assert.equal(cache.get('k'), undefined);
  });

  test('the byte bound evicts the least recently used answers first, and refuses one too large', () => {
    const clock = new ChangeClock(true);
    const cache = new ReadCache(clock, 30);
    const g = cache.generation;
    cache.set('a', g, answer('x'.repeat(9))); // 10 bytes with the key
    cache.set('b', g, answer('x'.repeat(9)));
    cache.set('c', g, answer('x'.repeat(9)));
    assert.ok(cache.get('a'), 'a is now the most recently used');
    cache.set('d', g, answer('x'.repeat(9)));
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.ok(cache.get('a') && cache.get('c') && cache.get('d'));
    assert.equal(cache.stats().bytes, 30);
    cache.set('e', g, answer('x'.repeat(40)));
    assert.equal(cache.get('e'), undefined);
    assert.equal(cache.stats().entries, 3);
  });
});
