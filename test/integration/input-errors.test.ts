// Bad input gets a clear error with a code from the closed set and changes nothing anywhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

describe('bad input is refused before anything is written', () => {
  let t: TestApp;
  let vmId: string;
  let ruleId: string;
  before(async () => {
    t = await startTestApp({ env: { LAN_POOL: '10.9.0.10-10.9.0.14', EXTERNAL_PORT_RANGE: '40000-40009' } });
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "taken", portRules: [{ internalPort: 80, externalPort: 40000 }] }) { id portRules { id } } }`)).provisionVm;
    vmId = vm.id;
    ruleId = vm.portRules[0].id;
  });
  after(async () => {
    await t?.close();
  });

  async function snapshot() {
    const db = await t.app.orm.em.fork().execute('select (select count(*) from vm) as vms, (select count(*) from port_rule) as rules, (select string_agg(concat_ws(\'/\', rule_number, external_port, internal_port, source_address, description, enabled), \',\' order by rule_number) from port_rule) as detail');
    return { db: db[0], router: JSON.stringify(t.sim.running()), commits: t.sim.commitCount };
  }

  const cases: [string, string, Record<string, unknown>, string, RegExp][] = [
    ['a quote in a description', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, description: "it's" }) { id } }`, {}, 'BAD_USER_INPUT', /input\.description/],
    ['a newline in a description', `mutation($vm: ID!, $d: String) { addPortRule(vmId: $vm, input: { internalPort: 81, description: $d }) { id } }`, { d: 'a\nset nat destination rule 1' }, 'BAD_USER_INPUT', /input\.description/],
    ['a description over 200 characters', `mutation($vm: ID!, $d: String) { addPortRule(vmId: $vm, input: { internalPort: 81, description: $d }) { id } }`, { d: 'x'.repeat(201) }, 'BAD_USER_INPUT', /200 characters/],
    ['a source address that is not IPv4', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, sourceAddress: "10.0.0.0/33" }) { id } }`, {}, 'BAD_USER_INPUT', /input\.sourceAddress/],
    ['a source address with host bits', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, sourceAddress: "10.0.0.1/24" }) { id } }`, {}, 'BAD_USER_INPUT', /10\.0\.0\.0\/24/],
    ['a hostname as source address', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, sourceAddress: "evil.example" }) { id } }`, {}, 'BAD_USER_INPUT', /sourceAddress/],
    ['port 0', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 0 }) { id } }`, {}, 'BAD_USER_INPUT', /internalPort/],
    ['port 70000', `mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { id } }`, { p: 70000 }, 'BAD_USER_INPUT', /input\.internalPort/],
    ['a taken VM name', `mutation { provisionVm(input: { name: "taken" }) { id } }`, {}, 'CONFLICT', /input\.name/],
    ['a VM name that is not a DNS label', `mutation { provisionVm(input: { name: "bad name!" }) { id } }`, {}, 'BAD_USER_INPUT', /input\.name/],
    ['a taken external port', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, externalPort: 40000 }) { id } }`, {}, 'CONFLICT', /externalPort/],
    ['TCP_UDP over a taken TCP port', `mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 81, externalPort: 40000, protocol: TCP_UDP }) { id } }`, {}, 'CONFLICT', /externalPort/],
    ['two rules of one VM asking for the same port', `mutation { provisionVm(input: { name: "twins", portRules: [{ internalPort: 1, externalPort: 40005 }, { internalPort: 2, externalPort: 40005, protocol: TCP_UDP }] }) { id } }`, {}, 'CONFLICT', /portRules\[1\]/],
    ['an unknown VM id', `mutation { addPortRule(vmId: "00000000-0000-4000-8000-000000000000", input: { internalPort: 81 }) { id } }`, {}, 'NOT_FOUND', /not found/],
    ['a malformed VM id', `mutation { addPortRule(vmId: "'; drop table vm; --", input: { internalPort: 81 }) { id } }`, {}, 'NOT_FOUND', /not found/],
    ['an unknown rule id', `mutation { removePortRule(id: "00000000-0000-4000-8000-000000000000") }`, {}, 'NOT_FOUND', /not found/],
    ['an update with nothing to change', `mutation($r: ID!) { updatePortRule(id: $r, input: {}) { id } }`, {}, 'BAD_USER_INPUT', /at least one field/],
    ['an invalid internal IP', `mutation { provisionVm(input: { name: "ipbad", internalIp: "300.1.1.1" }) { id } }`, {}, 'BAD_USER_INPUT', /.+/],
    ['a syntax error', `mutation { provisionVm(input: { name: }) { id } }`, {}, 'BAD_USER_INPUT', /.+/],
  ];

  for (const [what, query, vars, code, message] of cases) {
    test(`${what} -> ${code}, nothing changed`, async () => {
      const before = await snapshot();
      const res = await t.gql(query, { vm: vmId, r: ruleId, ...vars });
      assert.equal(errorCode(res), code, JSON.stringify(res.errors));
      assert.match(res.errors![0].message, message);
      assert.deepEqual(await snapshot(), before);
    });
  }

  test('exhausting LAN_POOL -> POOL_EXHAUSTED, nothing changed', async () => {
    for (let i = 0; i < 4; i++) ok(await t.gql(`mutation($n: String!) { provisionVm(input: { name: $n }) { id } }`, { n: `fill-${i}` }));
    const before = await snapshot();
    const res = await t.gql(`mutation { provisionVm(input: { name: "one-too-many" }) { id } }`);
    assert.equal(errorCode(res), 'POOL_EXHAUSTED');
    assert.match(res.errors![0].message, /LAN_POOL/);
    assert.deepEqual(await snapshot(), before);
  });

  test('exhausting EXTERNAL_PORT_RANGE -> POOL_EXHAUSTED for the request that finds no port', async () => {
    const before = await snapshot();
    const res = await t.gql(`mutation($vm: ID!) { addPortRule(vmId: $vm, input: { internalPort: 1, protocol: UDP }) { id } }`, { vm: vmId });
    assert.ok(!res.errors, `UDP 40000 is still free: ${JSON.stringify(res.errors)}`);
    const many = await Promise.all(Array.from({ length: 10 }, (_, i) => t.gql(`mutation($vm: ID!, $p: Port!) { addPortRule(vmId: $vm, input: { internalPort: $p }) { id } }`, { vm: vmId, p: 100 + i })));
    const codes = many.map((r) => errorCode(r) ?? 'OK');
    assert.equal(codes.filter((c) => c === 'OK').length, 9, 'ports 40001-40009 are free for TCP');
    assert.equal(codes.filter((c) => c === 'POOL_EXHAUSTED').length, 1);
    assert.ok(before.commits < t.sim.commitCount);
  });

  test('no key -> UNAUTHENTICATED; a VIEWER key cannot mutate -> FORBIDDEN; expired and revoked keys are refused', async () => {
    assert.equal(errorCode(await t.gql(`{ vms { totalCount } }`, {}, { key: null })), 'UNAUTHENTICATED');
    assert.equal(errorCode(await t.gql(`{ vms { totalCount } }`, {}, { key: 'vmk_000000000000_nope' })), 'UNAUTHENTICATED');
    const viewer = await createKey(t, 'VIEWER');
    assert.ok(ok(await t.gql(`{ vms { totalCount } }`, {}, { key: viewer })).vms.totalCount >= 1);
    const before = await snapshot();
    assert.equal(errorCode(await t.gql(`mutation { provisionVm(input: { name: "viewer-try" }) { id } }`, {}, { key: viewer })), 'FORBIDDEN');
    assert.deepEqual(await snapshot(), before);
    const operator = await createKey(t, 'OPERATOR');
    const viaHeader = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': operator }, body: JSON.stringify({ query: '{ vms { totalCount } }' }) });
    assert.ok(((await viaHeader.json()) as { data: { vms: unknown } }).data.vms);
    const expired = await createKey(t, 'ADMIN', { expiresAt: new Date(Date.now() - 1000) });
    const revoked = await createKey(t, 'ADMIN', { revokedAt: new Date() });
    assert.equal(errorCode(await t.gql(`{ vms { totalCount } }`, {}, { key: expired })), 'UNAUTHENTICATED');
    assert.equal(errorCode(await t.gql(`{ vms { totalCount } }`, {}, { key: revoked })), 'UNAUTHENTICATED');
  });
});
