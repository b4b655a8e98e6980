// What one document may cost (issue 15, finding 1): fields that touch the router or take its
// lock are priced, aliases and root mutation fields are capped, costs use the real variables,
// and a refused document makes no router call and commits nothing.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createAppPubSub } from '../../src/changes/events.js';
import { createSchema } from '../../src/graphql/schema.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

/** An HTTP hop in front of the simulator that counts the requests the router is sent. */
async function countingProxy(target: string): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  const to = new URL(target);
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    const out = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const aliased = (n: number, field: (i: number) => string) => Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ');

describe('router-touching fields are priced and capped', () => {
  let sim: Simulator;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let t: TestApp;
  let vmId: string;
  before(async () => {
    sim = await startSimulator({ keys: ['sim-key'], version: 'rolling' });
    proxy = await countingProxy(sim.url);
    t = await startTestApp({ simulator: sim, env: { VYOS_URL: proxy.url } });
    vmId = ok(await t.gql(`mutation { provisionVm(input: { name: "cost-target" }) { id } }`)).provisionVm.id;
  });
  after(async () => {
    await t?.close();
    await proxy?.close();
    await sim?.close();
  });

  test('200 aliased syncReport in one document: BAD_USER_INPUT, and the router is not called once', async () => {
    ok(await t.gql(`{ syncReport { inSync } }`));
    const before = proxy.count();
    const res = await t.gql(`{ ${aliased(200, () => 'syncReport { inSync }')} }`, undefined, { key: t.adminKey });
    assert.equal(errorCode(res), 'BAD_USER_INPUT', JSON.stringify(res).slice(0, 300));
    assert.equal(res.data ?? undefined, undefined, 'nothing ran');
    assert.equal(res.errors![0].extensions?.reason, 'QUERY_TOO_COMPLEX');
    assert.equal(res.errors![0].extensions?.http, undefined, 'the HTTP status stays out of the body');
    assert.equal(proxy.count(), before, 'no router call');
  });

  test('20 aliased addPortRule in one document: refused, no router commit, no rule', async () => {
    const commits = sim.commitCount;
    const before = proxy.count();
    const doc = `mutation($vm: ID!) { ${aliased(20, (i) => `addPortRule(vmId: $vm, input: { internalPort: ${1000 + i} }) { id }`)} }`;
    const res = await t.gql(doc, { vm: vmId });
    assert.equal(errorCode(res), 'BAD_USER_INPUT', JSON.stringify(res).slice(0, 300));
    assert.match(res.errors![0].message, /exceeds the limit|exceed the limit/);
    assert.equal(sim.commitCount, commits, 'no router commit');
    assert.equal(proxy.count(), before, 'no router call');
    assert.equal(ok(await t.gql(`query($id: ID!) { vm(id: $id) { portRules { id } } }`, { id: vmId })).vm.portRules.length, 0);
  });

  test('a few aliased mutations in one document still run', async () => {
    const doc = `mutation($vm: ID!) { ${aliased(3, (i) => `addPortRule(vmId: $vm, input: { internalPort: ${2000 + i} }) { id }`)} }`;
    const data = ok(await t.gql(doc, { vm: vmId }));
    assert.equal(Object.keys(data).length, 3);
  });

  test('an alias flood of a cheap field is refused by the alias cap', async () => {
    const res = await t.gql(`{ ${aliased(50, () => '__typename')} }`);
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    assert.equal(res.errors![0].extensions?.reason, 'TOO_MANY_ALIASES', JSON.stringify(res.errors));
  });

  test('page sizes are priced with the real variables: first: $n with n = 5 passes, n = 200 is refused', async () => {
    const q = `query($n: Int!) { vms(first: $n) { edges { node { portRules { vm { portRules { id } } } } } } }`;
    ok(await t.gql(q, { n: 5 }));
    const res = await t.gql(q, { n: 200 });
    assert.equal(errorCode(res), 'BAD_USER_INPUT');
    assert.equal(res.errors![0].extensions?.reason, 'QUERY_TOO_COMPLEX');
  });
});

describe('the cost of each router-touching field (pure)', () => {
  test('syncReport, health and every mutation carry a cost of at least one unit', async () => {
    const COST_UNIT = 1000; // points per unit (docs/security.md)
    const schema = await createSchema(createAppPubSub());
    const own = (type: 'Query' | 'Mutation', name: string) => Number(schema.getType(type) && (schema.getType(type) as never as { getFields(): Record<string, { extensions: { complexity?: unknown } }> }).getFields()[name].extensions.complexity);
    for (const name of ['syncReport', 'health']) assert.ok(own('Query', name) >= COST_UNIT, `Query.${name}`);
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    for (const name of mutations) assert.ok(own('Mutation', name) >= COST_UNIT, `Mutation.${name}`);
  });
});
