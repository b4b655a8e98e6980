// Planned reads end to end (docs/performance.md "Planned reads"): two replicas on one database,
// one with READ_PLANS on (the default), one with it off. Every answer must be the same bytes
// from both (data, errors, content type), whether the planned replica answered it from its plan
// or sent it on to graphql-js; the plan counter says which it did.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, ok, startTestApp, sql, type TestApp } from '../support/app.js';
import { parseMetrics, value } from '../support/metrics.js';

let planned: TestApp;
let full: TestApp;
let viewer: string;

async function planCounts(): Promise<{ planned: number; declined: number }> {
  const samples = parseMetrics(await planned.app.metrics.scrape());
  return {
    planned: value(samples, 'vyos_vm_api_read_plan_requests_total', { outcome: 'planned' }),
    declined: value(samples, 'vyos_vm_api_read_plan_requests_total', { outcome: 'declined' }),
  };
}

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

async function post(t: TestApp, body: unknown, headers: Record<string, string | null> = {}): Promise<Answer> {
  const h: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${viewer}`, 'cache-control': 'no-store' };
  for (const [k, v] of Object.entries(headers)) {
    if (v === null) delete h[k];
    else h[k] = v;
  }
  const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: h, body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** The request's answer from both replicas (the same, byte for byte), and how the planned one answered it. */
async function both(body: unknown, headers: Record<string, string | null> = {}): Promise<{ answer: Answer; how: 'planned' | 'declined' | 'not planned' }> {
  const before = await planCounts();
  const a = await post(planned, body, headers);
  const after = await planCounts();
  const b = await post(full, body, headers);
  assert.deepEqual(a, b, `the same answer from both replicas to ${JSON.stringify(body).slice(0, 200)}`);
  const how = after.planned > before.planned ? 'planned' : after.declined > before.declined ? 'declined' : 'not planned';
  return { answer: a, how };
}

const ALL_FIELDS = `__typename id name router macAddress createdAt updatedAt internalIp
  portRules { __typename id name ruleNumber protocol externalPort internalPort portCount sourceAddress description enabled needsRepair createdAt updatedAt }`;

before(async () => {
  planned = await startTestApp();
  full = await startTestApp({ db: planned.db, simulator: planned.sim, env: { READ_PLANS: 'off' } });
  const rules = [
    '[{ internalPort: 22, name: "ssh" }, { internalPort: 80, protocol: UDP, description: "web é😀" }]',
    '[{ internalPort: 443, protocol: TCP_UDP, sourceAddress: "203.0.113.0/24" }, { externalPort: 26000, portCount: 3 }]',
    '[]',
    '[{ internalPort: 8080, enabled: false }]',
  ];
  for (const [i, r] of rules.entries()) ok(await planned.gql(`mutation { provisionVm(input: { name: "web-${i}", portRules: ${r} }) { id } }`));
  ok(await planned.gql('mutation { provisionVm(input: { name: "db-1", macAddress: "52:54:00:ab:cd:ef", portRules: [{ internalPort: 5432 }] }) { id } }'));
  // What the API refuses to write may still be in the database (rules imported from the router,
  // older versions): quotes, backslashes, control characters; and timestamps at microseconds.
  await sql(planned, `update port_rule set description = E'say "hi" \\\\ tab\\there\\u0001 end' where internal_port = 22`);
  await sql(planned, `update vm set created_at = '2026-03-01 10:00:00.123999+00', updated_at = '2026-03-01 10:00:00.000999+00' where name = 'web-2'`);
  await sql(planned, `update port_rule set created_at = '1999-12-31 23:59:59.999999+00' where internal_port = 443`);
  viewer = await createKey(planned, 'VIEWER');
});

after(async () => {
  await full?.close();
  await planned?.close();
});

describe('planned reads', () => {
  test('the pages a plan answers are graphql-js\'s answers, byte for byte', async () => {
    const queries: [string, Record<string, unknown>?][] = [
      ['{ vms(first: 50) { edges { node { id name internalIp portRules { ruleNumber externalPort } } } } }'],
      [`{ __typename a: vms(first: 10) { __typename totalCount pageInfo { hasNextPage endCursor startCursor hasPreviousPage __typename } edges { cursor __typename node { ${ALL_FIELDS} } } } }`],
      ['{ vms(last: 2) { edges { cursor node { name } } pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }'],
      ['{ vms { totalCount } }'],
      ['{ vms(first: 1) { pageInfo { hasNextPage } } }'],
      ['{ vms { edges { cursor } } }'],
      ['{ vms { edges { node { r: portRules { __typename } } } } }'],
      ['query Q($f: VmFilter) { vms(filter: $f) { totalCount edges { node { name portRules { externalPort protocol enabled } } } } }', { f: { nameContains: 'WEB', protocol: 'UDP' } }],
      ['query Q($f: VmFilter) { vms(filter: $f) { totalCount edges { node { name } } } }', { f: { externalPort: 26001 } }],
      ['query Q($f: VmFilter) { vms(filter: $f) { totalCount edges { node { name } } } }', { f: { enabled: false, router: 'default' } }],
      ['query Q($f: VmFilter) { vms(filter: $f) { totalCount edges { node { name } } } }', { f: { nameContains: 'nothing-like-it' } }],
    ];
    for (const [query, variables] of queries) {
      const { answer, how } = await both({ query, variables });
      assert.equal(how, 'planned', query);
      assert.equal(answer.status, 200);
      assert.ok(!JSON.parse(answer.body).errors, answer.body);
    }
    // Apollo Client 4 names itself in `extensions`: nothing there but a persisted query changes the answer
    const named = await both({ query: queries[0][0], extensions: { clientLibrary: { name: '@apollo/client', version: '4.0.0' } } });
    assert.equal(named.how, 'planned');
    // the data the plan wrote is the data seeded: the hard strings and the truncated microseconds
    const { answer } = await both({ query: `{ vms { edges { node { ${ALL_FIELDS} } } } }` });
    const nodes = (JSON.parse(answer.body) as { data: { vms: { edges: { node: Record<string, any> }[] } } }).data.vms.edges.map((e) => e.node);
    assert.equal(nodes.length, 5);
    assert.equal(nodes.find((n) => n.name === 'web-2')!.createdAt, '2026-03-01T10:00:00.123Z');
    assert.deepEqual(nodes.find((n) => n.name === 'web-2')!.portRules, []);
    const ssh = nodes.flatMap((n) => n.portRules).find((r: { internalPort: number }) => r.internalPort === 22);
    assert.equal(ssh.description, 'say "hi" \\ tab\there\u0001 end');
    assert.equal(nodes.find((n) => n.name === 'db-1')!.macAddress, '52:54:00:ab:cd:ef');
  });

  test('every page of a walk with cursors, forwards and backwards, is the same', async () => {
    const page = 'query P($n: Int, $after: String, $l: Int, $before: String) { vms(first: $n, after: $after, last: $l, before: $before) { edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }';
    let after: string | null = null;
    const seen: string[] = [];
    for (;;) {
      const { answer, how } = await both({ query: page, variables: { n: 2, after } });
      assert.equal(how, 'planned');
      const conn = JSON.parse(answer.body).data.vms;
      seen.push(...conn.edges.map((e: { node: { name: string } }) => e.node.name));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    const all = JSON.parse((await post(full, { query: '{ vms { edges { node { name } } } }' })).body).data.vms.edges.map((e: { node: { name: string } }) => e.node.name);
    assert.equal(all.length, 5);
    assert.deepEqual(seen, all, 'every VM once, in list order');
    const { answer } = await both({ query: page, variables: { n: null, l: 2, before: after } });
    assert.equal(JSON.parse(answer.body).data.vms.edges.length, 2);
  });

  test('a planned document whose request would fail goes to graphql-js, and fails there the usual way', async () => {
    const page = 'query P($n: Int, $after: String, $f: VmFilter) { vms(first: $n, after: $after, filter: $f) { edges { node { name } } } }';
    const refusals: [string, Record<string, unknown>][] = [
      ['a page size out of range', { n: 0 }],
      ['a forged cursor', { after: 'bm90IGEgY3Vyc29y' }],
      ['a variable of the wrong type', { n: 'ten' }],
      ['a filter with NUL', { f: { nameContains: 'a\u0000b' } }],
      ['a port out of range in the filter', { f: { externalPort: 70000 } }],
    ];
    for (const [what, variables] of refusals) {
      const { answer, how } = await both({ query: page, variables });
      assert.equal(how, 'declined', what);
      assert.equal(JSON.parse(answer.body).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${what}: ${answer.body}`);
    }
    const { answer, how } = await both({ query: '{ vms(first: 2, last: 2) { totalCount } }' });
    assert.equal(how, 'declined');
    assert.match(answer.body, /first or last/);
  });

  test('what has no plan is answered by graphql-js alone, the same on both', async () => {
    const cases: [string, unknown, Record<string, string | null>?][] = [
      ['a fragment', { query: '{ vms { edges { node { ...F } } } } fragment F on Vm { name }' }],
      ['hairpin (a setting applies)', { query: '{ vms { edges { node { portRules { hairpin } } } } }' }],
      ['a relation', { query: '{ vms { edges { node { portRules { vm { name } } } } } }' }],
      ['a validation error', { query: '{ vms { edges { node { nope } } } }' }],
      ['no key', { query: '{ vms { totalCount } }' }, { authorization: null }],
      ['a revoked-looking key', { query: '{ vms { totalCount } }' }, { authorization: 'Bearer not-a-key' }],
      ['a persisted query extension', { query: '{ vms { totalCount } }', extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } }],
    ];
    for (const [what, body, headers] of cases) {
      const { how } = await both(body, headers);
      assert.equal(how, 'not planned', what);
    }
  });

  test('the content type follows Accept as Apollo chooses it', async () => {
    const query = '{ vms { totalCount } }';
    const { answer, how } = await both({ query }, { accept: 'application/graphql-response+json' });
    assert.equal(how, 'planned');
    assert.equal(answer.type, 'application/graphql-response+json; charset=utf-8');
    const refused = await both({ query }, { accept: 'text/html' });
    assert.equal(refused.how, 'not planned', 'a type Apollo refuses (406) is Apollo\'s to refuse');
    assert.equal(refused.answer.status, 406);
  });

  test('a planned answer is kept by the read cache and served from it until a change', async () => {
    const query = '{ vms { edges { node { name portRules { externalPort } } } } }';
    const first = await post(planned, { query }, { 'cache-control': null });
    const before = await planCounts();
    const second = await post(planned, { query }, { 'cache-control': null });
    assert.deepEqual(second, first, 'the cache serves what the plan computed');
    assert.equal((await planCounts()).planned, before.planned, 'a hit needs no plan');
    ok(await planned.gql('mutation { provisionVm(input: { name: "web-9", portRules: [{ internalPort: 22 }] }) { id } }'));
    const third = await post(planned, { query }, { 'cache-control': null });
    assert.match(third.body, /"web-9"/, 'a change is seen at once');
    assert.equal((await planCounts()).planned, before.planned + 1);
    assert.equal(third.body, (await post(full, { query })).body);
  });
});
