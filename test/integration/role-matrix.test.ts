// Keys and roles: every query, mutation and subscription of the built schema, for no key, each
// role, an expired and a revoked key, over HTTP and over WebSocket; key management; the audit line.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import type { Client } from 'graphql-ws';
import { createAppPubSub } from '../../src/changes/events.js';
import { createSchema } from '../../src/graphql/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation, type WsOutcome } from '../support/ws-operation.js';

type Role = 'VIEWER' | 'OPERATOR' | 'ADMIN';

/**
 * THE table: the least role each root field needs. Every field of the schema must be listed (the
 * test fails on one that is not), so a new field cannot ship without a decision.
 */
const MIN_ROLE: Record<string, Role> = {
  'Query.vms': 'VIEWER',
  'Query.vm': 'VIEWER',
  'Query.portRule': 'VIEWER',
  'Query.portRules': 'VIEWER',
  'Query.portOwners': 'VIEWER',
  'Query.node': 'VIEWER',
  'Query.rollbackEvents': 'VIEWER',
  'Query.health': 'VIEWER',
  'Query.syncReport': 'VIEWER',
  'Query.apiKeys': 'ADMIN',
  'Query.auditEvents': 'ADMIN',
  'Query.snapshots': 'VIEWER',
  'Query.routers': 'VIEWER',
  'Mutation.provisionVm': 'OPERATOR',
  'Mutation.decommissionVm': 'OPERATOR',
  'Mutation.addPortRule': 'OPERATOR',
  'Mutation.applyVm': 'OPERATOR',
  'Mutation.updateVm': 'OPERATOR',
  'Mutation.updatePortRule': 'OPERATOR',
  'Mutation.setPortRuleEnabled': 'OPERATOR',
  'Mutation.removePortRule': 'OPERATOR',
  'Mutation.reconcile': 'ADMIN',
  'Mutation.importRouterRules': 'ADMIN',
  'Mutation.createApiKey': 'ADMIN',
  'Mutation.revokeApiKey': 'ADMIN',
  'Mutation.takeSnapshot': 'ADMIN',
  'Mutation.restoreSnapshot': 'ADMIN',
  'Mutation.registerRouter': 'ADMIN',
  'Mutation.updateRouter': 'ADMIN',
  'Mutation.retireRouter': 'ADMIN',
  'Subscription.rollbackEvents': 'VIEWER',
  'Subscription.driftDetected': 'VIEWER',
};

const RANK: Record<Role, number> = { VIEWER: 1, OPERATOR: 2, ADMIN: 3 };

interface RootField {
  id: string;
  kind: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
}

/** A value GraphQL accepts for an input type; the resolver may still refuse it (not our concern here). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = sample(f.type);
    return out;
  }
  if (isScalarType(type)) {
    const samples: Record<string, unknown> = {
      ID: randomUUID(),
      String: 'role-matrix',
      Int: 1,
      Float: 1,
      Boolean: true,
      IPv4: '192.168.64.150',
      Port: 40000,
      DateTime: new Date(Date.now() + 86_400_000).toISOString(),
    };
    if (!(type.name in samples)) throw new Error(`role matrix: no sample value for scalar ${type.name}: add one`);
    return samples[type.name];
  }
  throw new Error(`role matrix: unexpected input type ${String(type)}`);
}

/** `mutation M($a: T!) { field(a: $a) { __typename } }` with variables for the required arguments. */
function operationFor(f: RootField): { query: string; variables: Record<string, unknown> } {
  const required = f.field.args.filter((a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined);
  const defs = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isCompositeType(getNamedType(f.field.type)) ? ' { __typename }' : '';
  const query = `${f.kind} M${defs ? `(${defs})` : ''} { ${f.field.name}${args ? `(${args})` : ''}${selection} }`;
  return { query, variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])) };
}

type Principal = 'no key' | Role | 'expired' | 'revoked';
const PRINCIPALS: Principal[] = ['no key', 'VIEWER', 'OPERATOR', 'ADMIN', 'expired', 'revoked'];

function expectation(principal: Principal, needs: Role): 'UNAUTHENTICATED' | 'FORBIDDEN' | 'allowed' {
  if (principal === 'no key' || principal === 'expired' || principal === 'revoked') return 'UNAUTHENTICATED';
  return RANK[principal] >= RANK[needs] ? 'allowed' : 'FORBIDDEN';
}

const AUTH_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);

describe('role matrix: every root field x every kind of caller x HTTP and WebSocket', () => {
  let t: TestApp;
  let fields: RootField[];
  const keys = new Map<Principal, string | null>();

  before(async () => {
    t = await startTestApp();
    const schema = await createSchema(createAppPubSub());
    const roots: [RootField['kind'], GraphQLObjectType | null | undefined][] = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ];
    fields = roots.flatMap(([kind, type]) =>
      Object.values(type?.getFields() ?? {}).map((field) => ({ id: `${type!.name}.${field.name}`, kind, field })),
    );
    keys.set('no key', null);
    for (const role of ['VIEWER', 'OPERATOR', 'ADMIN'] as const) keys.set(role, await createKey(t, role));
    keys.set('expired', await createKey(t, 'ADMIN', { expiresAt: new Date(Date.now() - 1000) }));
    keys.set('revoked', await createKey(t, 'ADMIN', { revokedAt: new Date() }));
  });
  after(async () => {
    await t?.close();
  });

  test('the table lists every root field of the schema', (ctx) => {
    const missing = fields.filter((f) => !(f.id in MIN_ROLE)).map((f) => f.id);
    assert.deepEqual(missing, [], `add these fields to MIN_ROLE in ${__filename.replace(/.*dist\//, '')}`);
    const present = new Set(fields.map((f) => f.id));
    const notYet = Object.keys(MIN_ROLE).filter((id) => !present.has(id));
    if (notYet.length) ctx.diagnostic(`in the table but not (yet) in the schema: ${notYet.join(', ')}`);
    assert.ok(fields.length >= 15, `enumerated ${fields.length} root fields`);
  });

  test('over HTTP: no key, expired and revoked -> UNAUTHENTICATED; too weak -> FORBIDDEN; enough -> never an auth error', async () => {
    const failures: string[] = [];
    for (const f of fields.filter((x) => x.kind !== 'subscription')) {
      const { query, variables } = operationFor(f);
      for (const principal of PRINCIPALS) {
        const res = await t.gql(query, variables, { key: keys.get(principal) });
        const want = expectation(principal, MIN_ROLE[f.id] ?? 'ADMIN');
        const codes = (res.errors ?? []).map((e) => e.extensions?.code);
        if (want === 'allowed') {
          if (codes.some((c) => AUTH_CODES.has(String(c)))) failures.push(`${f.id} as ${principal}: wanted allowed, got ${JSON.stringify(res.errors)}`);
        } else if (codes[0] !== want || res.data?.[f.field.name] != null) {
          failures.push(`${f.id} as ${principal}: wanted ${want}, got ${JSON.stringify(res)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('over HTTP: subscriptions are not served (they need the WebSocket) and never leak data', async () => {
    for (const f of fields.filter((x) => x.kind === 'subscription')) {
      const { query, variables } = operationFor(f);
      for (const principal of PRINCIPALS) {
        const res = await fetch(`${t.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(keys.get(principal) ? { authorization: `Bearer ${keys.get(principal)}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        const text = await res.text();
        assert.doesNotMatch(text, /"data"\s*:\s*\{/, `${f.id} as ${principal} over HTTP: ${text}`);
        assert.ok(res.status >= 400 || /"errors"/.test(text), `${f.id} as ${principal} over HTTP is refused: ${res.status} ${text}`);
      }
    }
  });

  test('over WebSocket: no key, expired and revoked keys are refused at connect (4403); roles as over HTTP', async () => {
    const failures: string[] = [];
    const clients = new Map<Principal, Client>();
    try {
      for (const principal of PRINCIPALS) clients.set(principal, wsClient(t.url, keys.get(principal) ?? null));
      for (const f of fields) {
        const { query, variables } = operationFor(f);
        for (const principal of PRINCIPALS) {
          const out: WsOutcome = await wsOperation(clients.get(principal)!, query, variables);
          const want = expectation(principal, MIN_ROLE[f.id] ?? 'ADMIN');
          const codes = (out.errors ?? []).map((e) => e.extensions?.code);
          if (want === 'UNAUTHENTICATED') {
            if (out.closeCode !== 4403 || out.data) failures.push(`${f.id} as ${principal}: wanted close 4403, got ${JSON.stringify(out)}`);
          } else if (want === 'FORBIDDEN') {
            if (codes[0] !== 'FORBIDDEN' || (out.data && out.data[f.field.name] != null)) failures.push(`${f.id} as ${principal}: wanted FORBIDDEN, got ${JSON.stringify(out)}`);
          } else if (out.closeCode !== undefined || codes.some((c) => AUTH_CODES.has(String(c)))) {
            failures.push(`${f.id} as ${principal}: wanted allowed, got ${JSON.stringify(out)}`);
          } else if (f.kind === 'subscription' && !out.streaming) {
            failures.push(`${f.id} as ${principal}: the subscription did not start: ${JSON.stringify(out)}`);
          }
        }
      }
    } finally {
      for (const c of clients.values()) await c.dispose();
    }
    assert.deepEqual(failures, []);
  });
});

describe('API keys: create, list, revoke, expire', () => {
  let t: TestApp;
  const lines: Record<string, unknown>[] = [];
  before(async () => {
    const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
    t = await startTestApp({ logger });
  });
  after(async () => {
    await t?.close();
  });

  const CREATE = `mutation($name: String!, $role: Role!, $expiresAt: DateTime) {
    createApiKey(name: $name, role: $role, expiresAt: $expiresAt) { secret apiKey { id name role prefix createdAt expiresAt revokedAt } } }`;
  const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

  test('createApiKey returns a working secret once; apiKeys never shows a secret or its hash', async () => {
    const created = ok(await t.gql(CREATE, { name: 'ci-deploy', role: 'OPERATOR' })).createApiKey;
    assert.match(created.secret, /^vmk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    assert.equal(created.apiKey.role, 'OPERATOR');
    assert.equal(created.secret.split('_')[1], created.apiKey.prefix);
    assert.equal(created.apiKey.revokedAt, null);

    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "by-new-key" }) { id } }`, {}, { key: created.secret })).provisionVm;
    assert.ok(vm.id, 'the new key works at once');
    assert.equal(errorCode(await t.gql(`{ apiKeys { id } }`, {}, { key: created.secret })), 'FORBIDDEN', 'an OPERATOR cannot list keys');

    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify({ query: '{ apiKeys { id name role prefix createdAt expiresAt revokedAt } }' }),
    });
    const text = await res.text();
    assert.ok(!text.includes(created.secret.split('_')[2]), 'the list never contains the secret');
    const listed = (JSON.parse(text).data.apiKeys as { id: string; name: string }[]).find((k) => k.id === created.apiKey.id);
    assert.equal(listed?.name, 'ci-deploy');
    const { rows } = await t.app.orm.em.getConnection().execute<{ secret_hash: string }[]>('select secret_hash from api_key where id = ?', [created.apiKey.id]).then((r) => ({ rows: r }));
    assert.notEqual(rows[0].secret_hash, created.secret, 'only a hash is stored');
    assert.ok(!text.includes(rows[0].secret_hash), 'the list never contains the hash');

    const introspected = ok(await t.gql(`{ __type(name: "ApiKey") { fields { name } } }`)).__type.fields.map((f: { name: string }) => f.name);
    assert.ok(!introspected.some((n: string) => /secret|hash/i.test(n)), `ApiKey has no secret field: ${introspected}`);
  });

  test('revokeApiKey: the key is refused from the next request on, over HTTP and on its open WebSocket', async () => {
    const created = ok(await t.gql(CREATE, { name: 'to-revoke', role: 'VIEWER' })).createApiKey;
    const client = wsClient(t.url, created.secret);
    try {
      const before = await wsOperation(client, `{ health { status } }`);
      assert.equal(before.errors, undefined, JSON.stringify(before));
      const sub = await wsOperation(client, `subscription { rollbackEvents { id } }`);
      assert.equal(sub.streaming, true, 'a subscription starts while the key is valid');

      const revoked = ok(await t.gql(REVOKE, { id: created.apiKey.id })).revokeApiKey;
      assert.ok(revoked.revokedAt, 'revokedAt is set');
      assert.equal(errorCode(await t.gql(`{ health { status } }`, {}, { key: created.secret })), 'UNAUTHENTICATED');

      const after = await wsOperation(client, `subscription { rollbackEvents { id } }`);
      assert.equal(after.streaming, undefined, `the next subscribe on the open socket is refused: ${JSON.stringify(after)}`);
      assert.ok(after.closeCode === 4403 || after.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED', JSON.stringify(after));
      const again = ok(await t.gql(REVOKE, { id: created.apiKey.id })).revokeApiKey;
      assert.equal(again.revokedAt, revoked.revokedAt, 'revoking twice changes nothing');
    } finally {
      await client.dispose();
    }
  });

  test('an expiring key works until expiresAt and is refused after it', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = ok(await t.gql(CREATE, { name: 'short-lived', role: 'VIEWER', expiresAt })).createApiKey;
    assert.equal(created.apiKey.expiresAt, expiresAt);
    ok(await t.gql(`{ health { status } }`, {}, { key: created.secret }));
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(errorCode(await t.gql(`{ health { status } }`, {}, { key: created.secret })), 'UNAUTHENTICATED');
  });

  test('bad key input is refused and creates nothing; unknown ids are NOT_FOUND; the last ADMIN key stays', async () => {
    const count = async () => ok(await t.gql(`{ apiKeys { id } }`)).apiKeys.length;
    const n = await count();
    for (const vars of [
      { name: '', role: 'VIEWER' },
      { name: 'x'.repeat(101), role: 'VIEWER' },
      { name: 'line\nbreak', role: 'VIEWER' },
      { name: 'past', role: 'VIEWER', expiresAt: new Date(Date.now() - 60_000).toISOString() },
      { name: 'bad-role', role: 'ROOT' },
      { name: 'bad-date', role: 'VIEWER', expiresAt: 'tomorrow' },
    ]) {
      assert.equal(errorCode(await t.gql(CREATE, vars)), 'BAD_USER_INPUT', JSON.stringify(vars));
    }
    assert.equal(await count(), n, 'nothing was created');
    assert.equal(errorCode(await t.gql(REVOKE, { id: randomUUID() })), 'NOT_FOUND');
    assert.equal(errorCode(await t.gql(REVOKE, { id: 'not-a-uuid' })), 'NOT_FOUND');

    // Revoke every ADMIN key but the caller's own: revoking that one too would lock everyone out.
    const keys = ok(await t.gql(`{ apiKeys { id role revokedAt name } }`)).apiKeys as { id: string; role: string; revokedAt: string | null; name: string }[];
    const seeded = keys.find((k) => k.name === 'admin (ADMIN_API_KEY)')!;
    for (const k of keys.filter((x) => x.role === 'ADMIN' && !x.revokedAt && x.id !== seeded.id)) ok(await t.gql(REVOKE, { id: k.id }));
    const res = await t.gql(REVOKE, { id: seeded.id });
    assert.equal(errorCode(res), 'CONFLICT', JSON.stringify(res));
    ok(await t.gql(`{ health { status } }`));
  });

  test('every mutation leaves one audit line naming the key, the operation and the outcome (HTTP and WebSocket)', async () => {
    const operator = ok(await t.gql(CREATE, { name: 'audited-operator', role: 'OPERATOR' })).createApiKey;
    const viewer = await createKey(t, 'VIEWER');
    lines.length = 0;
    ok(await t.gql(`mutation { provisionVm(input: { name: "audited" }) { id } }`, {}, { key: operator.secret }));
    assert.equal(errorCode(await t.gql(`mutation { decommissionVm(id: "${randomUUID()}") }`, {}, { key: operator.secret })), 'NOT_FOUND');
    assert.equal(errorCode(await t.gql(`mutation { decommissionVm(id: "${randomUUID()}") }`, {}, { key: viewer })), 'FORBIDDEN');
    const client = wsClient(t.url, operator.secret);
    try {
      const out = await wsOperation(client, `mutation { provisionVm(input: { name: "audited-ws" }) { id } }`);
      assert.equal(out.errors, undefined, JSON.stringify(out));
    } finally {
      await client.dispose();
    }
    ok(await t.gql(`{ vms { totalCount } }`, {}, { key: operator.secret }));

    const audit = lines.filter((l) => l.audit === true);
    assert.equal(audit.length, 4, `one line per mutation, none for the query: ${JSON.stringify(audit)}`);
    const [provision, missing, forbidden, overWs] = audit;
    assert.deepEqual(
      { operation: provision.operation, keyId: provision.keyId, keyName: provision.keyName, outcome: provision.outcome, level: provision.level },
      { operation: 'provisionVm', keyId: operator.apiKey.id, keyName: 'audited-operator', outcome: 'ok', level: 'info' },
    );
    assert.equal(missing.outcome, 'error');
    assert.deepEqual(missing.errorCodes, ['NOT_FOUND']);
    assert.equal(forbidden.keyName, 'test VIEWER');
    assert.deepEqual(forbidden.errorCodes, ['FORBIDDEN']);
    assert.equal(overWs.transport, 'ws');
    assert.equal(overWs.keyId, operator.apiKey.id);
    assert.equal(overWs.outcome, 'ok');
    assert.ok(!JSON.stringify(lines).includes(operator.secret), 'no secret in any log line');
  });
});
