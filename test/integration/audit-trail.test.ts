// The audit trail (docs/security.md "Audit trail"): a row for every accepted, refused, rolled-back
// and dry-run change, written with the change (committed) or after it (the rest), read back
// through `auditEvents` by an ADMIN with filters and pages, and never holding a secret.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, sql, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation } from '../support/ws-operation.js';

const PROVISION = `mutation Provision($input: ProvisionVmInput!, $dryRun: Boolean) { provisionVm(input: $input, dryRun: $dryRun) { id portRules { id ruleNumber } } }`;
const CREATE_KEY = `mutation($name: String!, $role: Role!, $idem: String) { createApiKey(name: $name, role: $role, idempotencyKey: $idem) { secret apiKey { id } } }`;
const EVENTS = `query($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id at keyId keyName role clientAddress transport requestId traceId operation operationName arguments
      vmIds portRuleIds apiKeyIds outcome errorCode reason commands { op path } batchId
    } }
  }
}`;

interface AuditNode {
  id: string;
  at: string;
  keyId: string | null;
  keyName: string | null;
  role: string | null;
  clientAddress: string | null;
  transport: string;
  requestId: string | null;
  traceId: string | null;
  operation: string;
  operationName: string | null;
  arguments: Record<string, any>;
  vmIds: string[];
  portRuleIds: string[];
  apiKeyIds: string[];
  outcome: string;
  errorCode: string | null;
  reason: string | null;
  commands: { op: string; path: string[] }[];
  batchId: string | null;
}

describe('audit trail', () => {
  let t: TestApp;
  let operator: { key: string; id: string };
  let viewer: { key: string; id: string };

  async function events(filter: Record<string, unknown> = {}, first = 50, afterCursor?: string) {
    return ok(await t.gql<{ auditEvents: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { cursor: string; node: AuditNode }[] } }>(EVENTS, { filter, first, after: afterCursor })).auditEvents;
  }
  async function only(filter: Record<string, unknown>): Promise<AuditNode> {
    const page = await events(filter);
    assert.equal(page.totalCount, 1, `one row for ${JSON.stringify(filter)}: ${JSON.stringify(page.edges.map((e) => e.node))}`);
    return page.edges[0].node;
  }
  async function newKey(name: string, role: string) {
    const created = ok(await t.gql(CREATE_KEY, { name, role, idem: `idem-${name}` })).createApiKey;
    return { key: created.secret as string, id: created.apiKey.id as string };
  }

  before(async () => {
    // a window wide enough that requests sent together always share a batch
    t = await startTestApp({ env: { BATCH_WINDOW_MS: '100' } });
    operator = await newKey('audit-operator', 'OPERATOR');
    viewer = await newKey('audit-viewer', 'VIEWER');
  });
  after(async () => {
    await t?.close();
  });

  test('a committed provisionVm: one COMMITTED row naming the key, the VM, its rules and the commands sent', async () => {
    const res = await t.gql(PROVISION, { input: { name: 'audited-1', portRules: [{ internalPort: 80, description: 'web' }] } }, { key: operator.key, headers: { 'x-request-id': 'req-audit-ok' } });
    const vm = ok(res).provisionVm;
    const row = await only({ requestId: 'req-audit-ok' });
    assert.equal(row.outcome, 'COMMITTED');
    assert.equal(row.operation, 'provisionVm');
    assert.equal(row.operationName, 'Provision');
    assert.equal(row.keyId, operator.id);
    assert.equal(row.keyName, 'audit-operator');
    assert.equal(row.role, 'OPERATOR');
    assert.equal(row.transport, 'http');
    assert.ok(row.clientAddress, 'the client address is recorded');
    assert.equal(row.traceId, null);
    assert.equal(row.errorCode, null);
    assert.deepEqual(row.vmIds, [vm.id]);
    assert.deepEqual(row.portRuleIds, [vm.portRules[0].id]);
    assert.equal(row.arguments.input.name, 'audited-1');
    assert.equal(row.arguments.input.portRules[0].description, 'web');
    const n = String(vm.portRules[0].ruleNumber);
    assert.ok(row.commands.some((c) => c.op === 'set' && c.path.join(' ') === `nat destination rule ${n} translation port 80`), JSON.stringify(row.commands));
    assert.ok(row.batchId);
    // The row is in the database exactly as the change is: committed together.
    const { rows } = await sql(t, 'select count(*)::int as n from audit_event where $1::uuid = any(vm_ids) and outcome = $2', [vm.id, 'COMMITTED']);
    assert.equal(rows[0].n, 1);
  });

  test('a refused provisionVm (bad input): a REFUSED row with the code, nothing committed, no batch', async () => {
    const res = await t.gql(PROVISION, { input: { name: 'Not A Valid Name!', portRules: [] } }, { key: operator.key, headers: { 'x-request-id': 'req-audit-refused' } });
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    const row = await only({ requestId: 'req-audit-refused' });
    assert.equal(row.outcome, 'REFUSED');
    assert.equal(row.errorCode, 'BAD_USER_INPUT');
    assert.ok(row.reason && row.reason.length > 0);
    assert.equal(row.arguments.input.name, 'Not A Valid Name!');
    assert.equal(row.batchId, null);
    assert.deepEqual(row.commands, []);
  });

  test('a variable that does not coerce (the resolver never runs) and a role refusal are recorded too', async () => {
    const bad = await t.gql(PROVISION, { input: { name: 'bad-ip', internalIp: 'not-an-ip' } }, { key: operator.key, headers: { 'x-request-id': 'req-audit-coerce' } });
    assert.ok(bad.errors?.length);
    const coerce = await only({ requestId: 'req-audit-coerce' });
    assert.equal(coerce.outcome, 'REFUSED');
    assert.equal(coerce.operation, 'provisionVm');
    assert.equal(coerce.errorCode, 'BAD_USER_INPUT');
    assert.equal(coerce.arguments.$variables.input.internalIp, 'not-an-ip');

    const forbidden = await t.gql(PROVISION, { input: { name: 'viewer-tries' } }, { key: viewer.key, headers: { 'x-request-id': 'req-audit-forbidden' } });
    assert.equal(errorCode(forbidden), 'FORBIDDEN');
    const row = await only({ requestId: 'req-audit-forbidden' });
    assert.equal(row.outcome, 'REFUSED');
    assert.equal(row.errorCode, 'FORBIDDEN');
    assert.equal(row.keyId, viewer.id);
    assert.equal(row.role, 'VIEWER');

    const anonymous = await t.gql(PROVISION, { input: { name: 'nobody-tries' } }, { key: null, headers: { 'x-request-id': 'req-audit-nokey' } });
    assert.equal(errorCode(anonymous), 'UNAUTHENTICATED');
    const nobody = await only({ requestId: 'req-audit-nokey' });
    assert.equal(nobody.errorCode, 'UNAUTHENTICATED');
    assert.equal(nobody.keyId, null);
  });

  test('a change the router rejects: a ROLLED_BACK row with the code, the reason and the discarded commands; no COMMITTED row', async () => {
    t.sim.faults.rejectNextCommit('\n[[nat]] failed\nCommit failed\n');
    const res = await t.gql(PROVISION, { input: { name: 'audited-rejected', portRules: [{ internalPort: 22 }] } }, { key: operator.key, headers: { 'x-request-id': 'req-audit-rollback' } });
    assert.equal(errorCode(res), 'ROUTER_REJECTED');
    const row = await only({ requestId: 'req-audit-rollback' });
    assert.equal(row.outcome, 'ROLLED_BACK');
    assert.equal(row.errorCode, 'ROUTER_REJECTED');
    assert.match(row.reason ?? '', /Commit failed/);
    assert.ok(row.commands.some((c) => c.path.includes('translation')), 'the commands that were sent and discarded');
    assert.ok(row.batchId);
    assert.deepEqual(row.vmIds, [], 'the VM it would have made never existed');
    const { rows } = await sql(t, "select count(*)::int as n from vm where name = 'audited-rejected'");
    assert.equal(rows[0].n, 0);
  });

  test('a change undone after the commit (the confirm fails): ROLLED_BACK', async () => {
    t.sim.faults.failNextConfirm('confirm refused');
    const res = await t.gql(PROVISION, { input: { name: 'audited-unconfirmed', portRules: [{ internalPort: 23 }] } }, { key: operator.key, headers: { 'x-request-id': 'req-audit-confirm' } });
    assert.ok(res.errors?.length);
    const row = await only({ requestId: 'req-audit-confirm' });
    assert.equal(row.outcome, 'ROLLED_BACK');
    assert.equal(row.errorCode, errorCode(res));
    assert.match(row.reason ?? '', /confirm/);
  });

  test('a dry run: a DRY_RUN row with the commands it would send', async () => {
    ok(await t.gql(PROVISION, { input: { name: 'audited-dry', portRules: [{ internalPort: 443 }] }, dryRun: true }, { key: operator.key, headers: { 'x-request-id': 'req-audit-dry' } }));
    const row = await only({ requestId: 'req-audit-dry' });
    assert.equal(row.outcome, 'DRY_RUN');
    assert.ok(row.commands.some((c) => c.path.includes('443')), JSON.stringify(row.commands));
  });

  test('createApiKey: the row names the new key, and neither the secret nor the idempotency key is stored', async () => {
    const created = ok(await t.gql(CREATE_KEY, { name: 'audit-ci', role: 'VIEWER', idem: 'idem-secretish' }, { headers: { 'x-request-id': 'req-audit-key' } })).createApiKey;
    const row = await only({ requestId: 'req-audit-key' });
    assert.equal(row.outcome, 'COMMITTED');
    assert.equal(row.operation, 'createApiKey');
    assert.deepEqual(row.apiKeyIds, [created.apiKey.id]);
    assert.equal(row.arguments.name, 'audit-ci');
    assert.equal(row.arguments.idempotencyKey, '[REDACTED]');
    const { rows } = await sql(t, 'select row_to_json(a)::text as json from audit_event a');
    const all = rows.map((r) => r.json as string).join('\n');
    assert.ok(!all.includes(created.secret), 'the new secret is in no audit row');
    assert.ok(!all.includes(operator.key) && !all.includes(viewer.key), 'no earlier secret either');
    assert.ok(!all.includes(t.adminKey), 'nor the admin key used');
    assert.ok(!all.includes('idem-secretish'));
  });

  test('concurrent changes that share a batch each get their own row, with the same batch id', async () => {
    const names = ['audited-b1', 'audited-b2', 'audited-b3'];
    const results = await Promise.all(names.map((name) => t.gql(PROVISION, { input: { name, portRules: [{ internalPort: 8080 }] } }, { key: operator.key, headers: { 'x-request-id': `req-${name}` } })));
    const rows = [];
    for (const [i, name] of names.entries()) {
      const row = await only({ requestId: `req-${name}` });
      assert.equal(row.outcome, 'COMMITTED');
      assert.deepEqual(row.vmIds, [ok(results[i]).provisionVm.id]);
      assert.ok(row.commands.length > 0 && row.commands.every((c) => c.path[3] === String(ok(results[i]).provisionVm.portRules[0].ruleNumber)), 'only its own commands');
      rows.push(row);
    }
    // sent together within the batch window: they shared one commit
    assert.equal(new Set(rows.map((r) => r.batchId)).size, 1, JSON.stringify(rows.map((r) => r.batchId)));
  });

  test('a mutation over WebSocket is recorded with transport ws', async () => {
    const client = wsClient(t.url, operator.key);
    try {
      const out = await wsOperation(client, PROVISION, { input: { name: 'audited-ws' } });
      assert.ok(!out.errors, JSON.stringify(out.errors));
    } finally {
      await client.dispose();
    }
    const vmId = (await sql(t, "select id from vm where name = 'audited-ws'")).rows[0].id as string;
    const row = await only({ vmId });
    assert.equal(row.transport, 'ws');
    assert.equal(row.keyId, operator.id);
    assert.ok(row.clientAddress);
  });

  test('filters: outcome, operation, keyId, vmId, since/until; newest first; pages with first/after', async () => {
    const all = await events({}, 200);
    assert.ok(all.totalCount >= 12);
    const times = all.edges.map((e) => Date.parse(e.node.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');

    for (const outcome of ['COMMITTED', 'REFUSED', 'ROLLED_BACK', 'DRY_RUN']) {
      const page = await events({ outcome }, 200);
      assert.ok(page.totalCount > 0, outcome);
      assert.ok(page.edges.every((e) => e.node.outcome === outcome));
    }
    const keys = await events({ operation: 'createApiKey' }, 200);
    assert.equal(keys.totalCount, 3);
    const mine = await events({ keyId: operator.id }, 200);
    assert.ok(mine.edges.length > 0 && mine.edges.every((e) => e.node.keyId === operator.id));
    assert.ok(!mine.edges.some((e) => e.node.operation === 'createApiKey'), 'the admin made the keys');

    const vm = ok(await t.gql(`{ vm(name: "audited-1") { id } }`)).vm;
    ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: vm.id }, { key: operator.key }));
    const history = await events({ vmId: vm.id });
    assert.deepEqual(history.edges.map((e) => e.node.operation), ['decommissionVm', 'provisionVm']);
    assert.equal((await events({ vmId: 'not-a-uuid' })).totalCount, 0);

    const middle = all.edges[Math.floor(all.edges.length / 2)].node.at;
    const older = await events({ until: middle }, 200);
    const newer = await events({ since: middle }, 200);
    assert.ok(older.edges.every((e) => Date.parse(e.node.at) <= Date.parse(middle)));
    assert.ok(newer.edges.every((e) => Date.parse(e.node.at) >= Date.parse(middle)));
    assert.equal(older.totalCount + newer.totalCount, all.totalCount + 1, 'since is inclusive, until exclusive (the history above added one row)');

    // Pages of 3 walk the whole list once, in order.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await events({}, 3, cursor);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor!;
    }
    const whole = (await events({}, 200)).edges.map((e) => e.node.id);
    assert.deepEqual(seen, whole);
    assert.equal(errorCode(await t.gql(EVENTS, { first: 5, after: 'bogus' })), 'BAD_USER_INPUT');
  });

  test('only an ADMIN reads the trail', async () => {
    assert.equal(errorCode(await t.gql(EVENTS, {}, { key: operator.key })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(EVENTS, {}, { key: viewer.key })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(EVENTS, {}, { key: null })), 'UNAUTHENTICATED');
  });

  test('rows past AUDIT_RETENTION_DAYS are pruned', async () => {
    await sql(t, `insert into audit_event (id, at, transport, operation, arguments, vm_ids, port_rule_ids, api_key_ids, outcome, commands)
                  values (gen_random_uuid(), now() - interval '91 days', 'http', 'ancientOp', '{}', '{}', '{}', '{}', 'COMMITTED', '[]')`);
    const before = (await events({}, 1)).totalCount;
    assert.equal((await events({ operation: 'ancientOp' })).totalCount, 1);
    assert.equal(await t.app.services.audit.prune(), 1);
    assert.equal((await events({ operation: 'ancientOp' })).totalCount, 0);
    assert.equal((await events({}, 1)).totalCount, before - 1, 'nothing younger went');
  });
});
