// Keyset pagination over real HTTP and real PostgreSQL (issue 16 item 3, issue 17 item 6): cursors
// keep microseconds, so rows of one millisecond are neither skipped nor repeated; pages go forwards
// and backwards with hasPreviousPage/hasNextPage right at both ends; and the statements a page runs
// are range scans of an index (no sort of the table), shown by EXPLAIN on tables large enough for
// the planner to prefer a sequential scan plus sort if the index did not serve the order.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeCursor, pageQuery, pageRequest, type PageRequest } from '../../src/graphql/connection.js';
import { RULE_COLUMNS, RULES_BY_VM_SQL, uuidArray } from '../../src/graphql/read-model.js';
import { PORT_RULE_KEYSET, ROLLBACK_KEYSET, ROLLBACK_SOURCE, VM_KEYSET, portRuleSource, vmSource } from '../../src/graphql/read-pages.js';
import { errorCode, ok, startTestApp, type TestApp, sql } from '../support/app.js';

interface Page {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Every page of a connection, forwards (first/after) or backwards (last/before), checking PageInfo at each step. */
async function walk(t: TestApp, field: string, size: number, backward: boolean, extraArgs = '', key?: string): Promise<{ ids: string[]; pages: number }> {
  const query = `query($n: Int, $c: String) { list: ${field}(${backward ? 'last: $n, before: $c' : 'first: $n, after: $c'}${extraArgs}) {
    edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  for (;;) {
    const page: Page = ok(await t.gql(query, { n: size, c: cursor }, key ? { key } : {})).list;
    pages++;
    const got = page.edges.map((e) => e.node.id);
    const { hasNextPage, hasPreviousPage, startCursor, endCursor } = page.pageInfo;
    assert.equal(startCursor, page.edges[0]?.cursor ?? null, 'startCursor is the first edge\'s cursor');
    assert.equal(endCursor, page.edges.at(-1)?.cursor ?? null, 'endCursor is the last edge\'s cursor');
    if (backward) {
      assert.equal(hasNextPage, cursor !== null, `page ${pages} backwards: items after it exist exactly when it started from a cursor`);
      ids.unshift(...got);
      if (!hasPreviousPage) break;
      assert.equal(got.length, size, 'a page with more before it is full');
      cursor = startCursor;
    } else {
      assert.equal(hasPreviousPage, cursor !== null, `page ${pages} forwards: items before it exist exactly when it started from a cursor`);
      ids.push(...got);
      if (!hasNextPage) break;
      assert.equal(got.length, size, 'a page with more after it is full');
      cursor = endCursor;
    }
    assert.ok(pages < 10_000, 'paging ends');
  }
  return { ids, pages };
}

/** Every plan node of an EXPLAIN (FORMAT JSON). */
function planNodes(plan: any): any[] {
  const out: any[] = [];
  const visit = (n: any) => {
    out.push(n);
    for (const c of n.Plans ?? []) visit(c);
  };
  visit(plan[0].Plan);
  return out;
}

async function explain(t: TestApp, q: { sql: string; params: unknown[] }): Promise<any[]> {
  const rows = await t.app.orm.em.fork().execute<{ 'QUERY PLAN': unknown }[]>(`explain (format json) ${q.sql}`, q.params);
  return planNodes(rows[0]['QUERY PLAN']);
}

const describePlan = (nodes: any[]) => nodes.map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`).join(' > ');

describe('keyset pagination', () => {
  let t: TestApp;
  let ordered: string[] = [];

  before(async () => {
    t = await startTestApp();
    // 500 VMs in 50 milliseconds: in each millisecond five rows with distinct microseconds and five
    // sharing one instant (ordered by id alone). Inserted in random order, so ids do not follow time.
    await sql(
      t,
      `insert into vm (id, name, internal_ip, created_at, updated_at)
       select gen_random_uuid(), 'bulk-' || g, '10.1.' || (g / 256) || '.' || (g % 256),
              timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => (g / 10) * 0.001 + (case when g % 10 < 5 then g % 10 else 7 end) * 0.000001),
              now()
       from generate_series(0, 499) g order by random()`,
    );
    ordered = (await sql(t, 'select id from vm order by created_at, id')).rows.map((r) => r.id as string);
    const micro = (await sql(t, `select count(distinct date_trunc('milliseconds', created_at))::int as ms, count(distinct created_at)::int as us from vm`)).rows[0];
    assert.deepEqual(micro, { ms: 50, us: 300 }, 'the data has many rows per millisecond, some per microsecond');
  });
  after(async () => {
    await t?.close();
  });

  test('500 VMs paged forwards: every VM exactly once, in (created_at, id) order, across rows of one millisecond', async () => {
    const { ids, pages } = await walk(t, 'vms', 7, false);
    assert.equal(pages, Math.ceil(500 / 7));
    assert.equal(new Set(ids).size, 500, 'no VM twice');
    assert.deepEqual(ids, ordered, 'none skipped, in order');
  });

  test('500 VMs paged backwards from the end give the same list', async () => {
    const { ids } = await walk(t, 'vms', 9, true);
    assert.deepEqual(ids, ordered);
  });

  test('a cursor goes both ways: after it and before it, the two sides meet without overlap', async () => {
    const half = ok(await t.gql(`{ vms(first: 125) { pageInfo { endCursor } } }`)).vms.pageInfo.endCursor;
    const mid = ok(await t.gql(`query($c: String) { vms(first: 125, after: $c) { pageInfo { endCursor } } }`, { c: half })).vms.pageInfo.endCursor;
    const later = ok(await t.gql(`query($c: String) { vms(first: 200, after: $c) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage } } }`, { c: mid })).vms;
    const earlier = ok(await t.gql(`query($c: String) { vms(last: 200, before: $c) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage } } }`, { c: mid })).vms;
    assert.deepEqual(later.edges.map((e: any) => e.node.id), ordered.slice(250, 450));
    assert.deepEqual(earlier.edges.map((e: any) => e.node.id), ordered.slice(49, 249));
    assert.deepEqual(later.pageInfo, { hasPreviousPage: true, hasNextPage: true });
    assert.deepEqual(earlier.pageInfo, { hasPreviousPage: true, hasNextPage: true });
    // after and before together: the rows strictly between
    const both = ok(await t.gql(`query($a: String, $b: String) { vms(first: 200, after: $a, before: $b) { edges { node { id } } } }`, {
      a: ok(await t.gql(`{ vms(first: 10) { pageInfo { endCursor } } }`)).vms.pageInfo.endCursor,
      b: ok(await t.gql(`{ vms(first: 20) { pageInfo { endCursor } } }`)).vms.pageInfo.endCursor,
    })).vms;
    assert.deepEqual(both.edges.map((e: any) => e.node.id), ordered.slice(10, 19));
  });

  test('the whole list in one page has no page on either side; an empty filter result has null cursors', async () => {
    const all = ok(await t.gql(`{ vms(first: 200, filter: { nameContains: "bulk-1" }) { totalCount edges { node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`)).vms;
    assert.equal(all.totalCount, 111, 'bulk-1, bulk-10..19, bulk-100..199');
    assert.equal(all.edges.length, 111);
    assert.equal(all.pageInfo.hasNextPage, false);
    assert.equal(all.pageInfo.hasPreviousPage, false);
    const none = ok(await t.gql(`{ vms(last: 5, filter: { nameContains: "nothing-like-this" }) { totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`)).vms;
    assert.deepEqual(none, { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });

  test('bad page arguments and foreign or old cursors are BAD_USER_INPUT', async () => {
    const vmCursor = ok(await t.gql(`{ vms(first: 1) { pageInfo { endCursor } } }`)).vms.pageInfo.endCursor;
    // the format before microsecond cursors: [ISO time in milliseconds, id]
    const old = Buffer.from(JSON.stringify(['2026-01-01T00:00:00.001Z', ordered[0]])).toString('base64url');
    const ruleCursor = encodeCursor(PORT_RULE_KEYSET, ['10000']);
    const cases: [string, Record<string, unknown>][] = [
      [`{ vms(first: 5, last: 5) { totalCount } }`, {}],
      [`{ vms(last: 0) { totalCount } }`, {}],
      [`{ vms(last: 201) { totalCount } }`, {}],
      [`query($c: String) { vms(after: $c) { totalCount } }`, { c: old }],
      [`query($c: String) { vms(before: $c) { totalCount } }`, { c: 'garbage' }],
      [`query($c: String) { vms(after: $c) { totalCount } }`, { c: ruleCursor }],
      [`query($c: String) { portRules(after: $c) { totalCount } }`, { c: vmCursor }],
      // the format before a fleet of routers: a rule number alone
      [`query($c: String) { portRules(after: $c) { totalCount } }`, { c: ruleCursor }],
      [`query($c: String) { rollbackEvents(before: $c) { totalCount } }`, { c: vmCursor }],
      // a well-formed shape whose time is not a microsecond timestamp
      [`query($c: String) { vms(after: $c) { totalCount } }`, { c: encodeCursor(VM_KEYSET, ['2026-01-01 00:00:00', ordered[0]]) }],
    ];
    for (const [query, variables] of cases) assert.equal(errorCode(await t.gql(query, variables)), 'BAD_USER_INPUT', `${query} ${JSON.stringify(variables)}`);
  });

  describe('the statements a page runs are index range scans', () => {
    const afterCursor = (keyset: typeof VM_KEYSET, values: string[]): PageRequest => pageRequest(keyset, { first: 50, after: encodeCursor(keyset, values) });
    let vmIds: string[] = [];

    before(async () => {
      // enough rows that, without the index, the planner would sort (a sequential scan of every row)
      await sql(
        t,
        `insert into vm (id, name, internal_ip, created_at, updated_at)
         select gen_random_uuid(), 'big-' || g, '10.2.' || (g / 256) || '.' || (g % 256), now() - make_interval(secs => g), now() from generate_series(0, 19999) g`,
      );
      await sql(
        t,
        `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, tcp_port, enabled, needs_repair, created_at, updated_at)
         select gen_random_uuid(), v.id, 20000 + v.n, 'TCP', 1 + v.n % 65000, 22, 1 + v.n, true, false, now(), now()
         from (select id, row_number() over (order by id)::int as n from vm where name like 'big-%' and name not like 'big-1%') v`,
      );
      await sql(
        t,
        `insert into rollback_event (id, at, operation, stage, reason, outcome, commands)
         select gen_random_uuid(), now() - make_interval(secs => g), 'addPortRule', 'ROUTER_COMMIT', 'bulk', 'ROLLED_BACK', '[]' from generate_series(0, 19999) g`,
      );
      await sql(t, 'analyze vm; analyze port_rule; analyze rollback_event');
      vmIds = (await sql(t, 'select id from vm order by random() limit 50')).rows.map((r) => r.id as string);
    });

    test('vms: a page after a cursor reads vm_created_at_id_index, sorts nothing', async () => {
      const at = (await sql(t, `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text from vm order by created_at, id offset 10000 limit 1`)).rows[0];
      for (const req of [afterCursor(VM_KEYSET, [at.at, at.id]), pageRequest(VM_KEYSET, { last: 50, before: encodeCursor(VM_KEYSET, [at.at, at.id]) }), pageRequest(VM_KEYSET, { first: 50 })]) {
        const nodes = await explain(t, pageQuery(VM_KEYSET, vmSource(null), req));
        const plan = describePlan(nodes);
        assert.ok(nodes.some((n) => n['Index Name'] === 'vm_created_at_id_index'), plan);
        assert.ok(!nodes.some((n) => n['Node Type'] === 'Sort' || n['Node Type'] === 'Seq Scan'), plan);
      }
      // the cursor bound is the index condition itself, not a filter applied to every row read
      const nodes = await explain(t, pageQuery(VM_KEYSET, vmSource(null), afterCursor(VM_KEYSET, [at.at, at.id])));
      const scan = nodes.find((n) => n['Index Name'] === 'vm_created_at_id_index');
      assert.match(String(scan['Index Cond']), /ROW\(created_at, id\) > ROW\(/, describePlan(nodes));
    });

    test('a vms page with its rules is one statement: the page by its index, each VM\'s rules by port_rule_vm_id_index', async () => {
      const nodes = await explain(t, pageQuery(VM_KEYSET, vmSource(null, RULE_COLUMNS), pageRequest(VM_KEYSET, { first: 50 })));
      const plan = describePlan(nodes);
      assert.ok(nodes.some((n) => n['Index Name'] === 'vm_created_at_id_index'), plan);
      assert.ok(nodes.some((n) => String(n['Index Name']).startsWith('port_rule_vm_id')), plan);
      assert.ok(!nodes.some((n) => n['Node Type'] === 'Seq Scan'), plan);
      // and it answers what the by-VM loader would: the page's rules, by rule number
      const page = (await sql(t, 'select id from vm order by created_at, id limit 50')).rows.map((r) => r.id as string);
      const viaApi = ok(await t.gql(`{ vms(first: 50) { edges { node { id portRules { ruleNumber } } } } }`));
      const expected = await sql(t, `select vm_id, array_agg(rule_number order by rule_number) as numbers from port_rule where vm_id = any($1::uuid[]) group by vm_id`, [page]);
      const byVm = new Map(expected.rows.map((r) => [r.vm_id as string, r.numbers as number[]]));
      for (const { node } of viaApi.vms.edges as { node: { id: string; portRules: { ruleNumber: number }[] } }[]) {
        assert.deepEqual(node.portRules.map((r) => r.ruleNumber), byVm.get(node.id) ?? []);
      }
    });

    test('a filtered vms page keeps the index order (filter by an internal IP: its index; unique per router)', async () => {
      const byIp = await explain(t, pageQuery(VM_KEYSET, vmSource({ internalIp: '10.2.3.4' }), pageRequest(VM_KEYSET, { first: 50 })));
      assert.ok(byIp.some((n) => n['Index Name'] === 'vm_internal_ip_index'), describePlan(byIp));
      assert.ok(!byIp.some((n) => n['Node Type'] === 'Seq Scan'), describePlan(byIp));
    });

    test('rollbackEvents: newest first, read backwards along rollback_event_at_id_index', async () => {
      const at = (await sql(t, `select to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text from rollback_event order by at desc, id desc offset 5000 limit 1`)).rows[0];
      for (const req of [afterCursor(ROLLBACK_KEYSET, [at.at, at.id]), pageRequest(ROLLBACK_KEYSET, { last: 50, before: encodeCursor(ROLLBACK_KEYSET, [at.at, at.id]) })]) {
        const nodes = await explain(t, pageQuery(ROLLBACK_KEYSET, ROLLBACK_SOURCE, req));
        assert.ok(nodes.some((n) => n['Index Name'] === 'rollback_event_at_id_index'), describePlan(nodes));
        assert.ok(!nodes.some((n) => n['Node Type'] === 'Sort' || n['Node Type'] === 'Seq Scan'), describePlan(nodes));
      }
    });

    test('portRules: by rule number and id along their index (a rule number is unique per router only); by VM along port_rule_vm_id_index; by external port along the claim ranges\' indexes', async () => {
      const page = await explain(t, pageQuery(PORT_RULE_KEYSET, portRuleSource(null), afterCursor(PORT_RULE_KEYSET, ['25000', '00000000-0000-4000-8000-000000000000'])));
      assert.ok(page.some((n) => n['Index Name'] === 'port_rule_rule_number_id_index'), describePlan(page));
      assert.ok(!page.some((n) => n['Node Type'] === 'Sort' || n['Node Type'] === 'Seq Scan'), describePlan(page));
      const byVm = await explain(t, pageQuery(PORT_RULE_KEYSET, portRuleSource({ vmId: vmIds[0] }), pageRequest(PORT_RULE_KEYSET, { first: 50 })));
      // either index that leads with vm_id serves it (the planner may take the (vm_id, name) unique one)
      assert.ok(byVm.some((n) => /^port_rule_vm_id_/.test(String(n['Index Name']))), describePlan(byVm));
      const byPort = await explain(t, pageQuery(PORT_RULE_KEYSET, portRuleSource({ externalPort: 1234 }), pageRequest(PORT_RULE_KEYSET, { first: 50 })));
      // a range holds the port too: the exclusion constraints' GiST indexes on each rule's claimed ports answer it
      for (const index of ['port_rule_tcp_ports_excl', 'port_rule_udp_ports_excl']) assert.ok(byPort.some((n) => n['Index Name'] === index), describePlan(byPort));
      assert.ok(!byPort.some((n) => n['Node Type'] === 'Seq Scan'), describePlan(byPort));
    });

    test('a page\'s nested portRules: one statement for the page\'s VMs, along port_rule_vm_id_index', async () => {
      const nodes = await explain(t, { sql: RULES_BY_VM_SQL, params: [uuidArray(vmIds)] });
      assert.ok(nodes.some((n) => /^port_rule_vm_id_/.test(String(n['Index Name']))), describePlan(nodes));
      assert.ok(!nodes.some((n) => n['Node Type'] === 'Seq Scan'), describePlan(nodes));
    });

    test('over HTTP, a page deep in 20,500 VMs is the same rows as the table in index order', async () => {
      const { rows } = await sql(t, 'select id from vm order by created_at, id offset 20000 limit 51');
      const cursorRow = (await sql(t, `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text from vm order by created_at, id offset 19999 limit 1`)).rows[0];
      const page = ok(await t.gql(`query($c: String) { vms(first: 50, after: $c) { edges { node { id portRules { ruleNumber } } } pageInfo { hasNextPage hasPreviousPage } } }`, {
        c: encodeCursor(VM_KEYSET, [cursorRow.at, cursorRow.id]),
      })).vms;
      assert.deepEqual(page.edges.map((e: any) => e.node.id), rows.slice(0, 50).map((r) => r.id));
      assert.deepEqual(page.pageInfo, { hasNextPage: true, hasPreviousPage: true });
    });
  });
});
