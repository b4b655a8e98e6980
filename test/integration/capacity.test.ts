// Capacity: the pool gauges on /metrics and `capacity` in GET /health and the `health` query move
// as VMs and rules come and go, reach free=0 when tiny pools run out (and provisioning then fails
// with POOL_EXHAUSTED), and agree on a second replica that did none of the changes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { parseMetrics, value, type Sample } from '../support/metrics.js';

// Tiny pools, so exhaustion is four VMs away.
const ENV = { NAT_RULE_RANGE: '10000-10004', EXTERNAL_PORT_RANGE: '32000-32003', LAN_POOL: '192.168.64.10-192.168.64.12' };
const POOLS = ['rule_number', 'external_port_tcp', 'external_port_udp', 'lan_address'] as const;
type Pool = (typeof POOLS)[number];

interface PoolCapacity {
  pool: Pool;
  range: string;
  total: number;
  used: number;
  free: number;
}

async function scrape(t: TestApp): Promise<Sample[]> {
  const res = await fetch(`${t.url}/metrics`);
  assert.equal(res.status, 200);
  return parseMetrics(await res.text());
}

/** free per pool from /metrics */
async function gaugesFree(t: TestApp): Promise<Record<Pool, number>> {
  const s = await scrape(t);
  return Object.fromEntries(POOLS.map((pool) => [pool, value(s, 'vyos_vm_api_pool_free', { router: 'default', pool })])) as Record<Pool, number>;
}

async function healthCapacity(t: TestApp): Promise<PoolCapacity[]> {
  const res = await fetch(`${t.url}/health`);
  return ((await res.json()) as { capacity: PoolCapacity[] }).capacity;
}

async function graphqlCapacity(t: TestApp): Promise<PoolCapacity[]> {
  return ok(await t.gql<{ health: { capacity: PoolCapacity[] } }>('{ health { capacity { pool range total used free } } }')).health.capacity;
}

const freeOf = (pools: PoolCapacity[]) => Object.fromEntries(pools.map((p) => [p.pool, p.free]));

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id internalIp } }`;

describe('capacity of tiny pools as VMs come and go', () => {
  let t: TestApp;
  let second: TestApp;
  before(async () => {
    t = await startTestApp({ env: ENV });
  });
  after(async () => {
    await second?.close();
    await t?.close();
  });

  test('an empty database: every pool is free, sizes from the configuration, in all three views', async () => {
    const s = await scrape(t);
    const size = (pool: Pool) => value(s, 'vyos_vm_api_pool_size', { router: 'default', pool });
    assert.deepEqual(POOLS.map(size), [5, 4, 4, 3]);
    assert.deepEqual(await gaugesFree(t), { rule_number: 5, external_port_tcp: 4, external_port_udp: 4, lan_address: 3 });
    const expected = [
      { pool: 'rule_number', range: '10000-10004', total: 5, used: 0, free: 5 },
      { pool: 'external_port_tcp', range: '32000-32003', total: 4, used: 0, free: 4 },
      { pool: 'external_port_udp', range: '32000-32003', total: 4, used: 0, free: 4 },
      { pool: 'lan_address', range: '192.168.64.10-192.168.64.12', total: 3, used: 0, free: 3 },
    ];
    assert.deepEqual(await healthCapacity(t), expected);
    assert.deepEqual(await graphqlCapacity(t), expected);
  });

  test('build_info names the package version and the Node.js version', async () => {
    const s = await scrape(t);
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const info = s.filter((x) => x.name === 'vyos_vm_api_build_info');
    assert.equal(info.length, 1);
    assert.equal(info[0].value, 1);
    assert.equal(info[0].labels.version, pkg.version);
    assert.equal(info[0].labels.node_version, process.version);
    if (info[0].labels.commit !== undefined) assert.match(info[0].labels.commit, /^[0-9a-f]{40}$/);
  });

  test('provisioning takes from the pools, a TCP_UDP rule from both port pools; values outside a range do not count', async () => {
    ok(await t.gql(PROVISION, { input: { name: 'cap-a', portRules: [{ internalPort: 80 }] } }));
    assert.deepEqual(await gaugesFree(t), { rule_number: 4, external_port_tcp: 3, external_port_udp: 4, lan_address: 2 });

    ok(await t.gql(PROVISION, { input: { name: 'cap-b', portRules: [{ internalPort: 53, protocol: 'TCP_UDP' }] } }));
    assert.deepEqual(await gaugesFree(t), { rule_number: 3, external_port_tcp: 2, external_port_udp: 3, lan_address: 1 });

    // An explicit port and an explicit address outside the ranges take a rule number only.
    ok(await t.gql(PROVISION, { input: { name: 'cap-outside', internalIp: '192.168.65.1', portRules: [{ internalPort: 22, externalPort: 40022, protocol: 'UDP' }] } }));
    assert.deepEqual(await gaugesFree(t), { rule_number: 2, external_port_tcp: 2, external_port_udp: 3, lan_address: 1 });

    const viaHealth = await healthCapacity(t);
    assert.deepEqual(freeOf(viaHealth), { rule_number: 2, external_port_tcp: 2, external_port_udp: 3, lan_address: 1 });
    assert.deepEqual(
      viaHealth.map((p) => p.used),
      [3, 2, 1, 2],
    );
    assert.deepEqual(freeOf(await graphqlCapacity(t)), freeOf(viaHealth));
  });

  test('the last LAN address: free reaches 0, and the next VM without an address is refused with POOL_EXHAUSTED', async () => {
    ok(await t.gql(PROVISION, { input: { name: 'cap-c', portRules: [] } }));
    assert.equal((await gaugesFree(t)).lan_address, 0);
    const lan = (await healthCapacity(t)).find((p) => p.pool === 'lan_address');
    assert.deepEqual(lan, { pool: 'lan_address', range: '192.168.64.10-192.168.64.12', total: 3, used: 3, free: 0 });

    const refused = await t.gql(PROVISION, { input: { name: 'cap-d' } });
    assert.equal(errorCode(refused), 'POOL_EXHAUSTED');
    assert.equal(refused.errors?.[0]?.extensions?.pool, 'LAN_POOL');
    assert.equal((await gaugesFree(t)).lan_address, 0, 'a refused change takes nothing');
  });

  test('decommissioning gives the values back', async () => {
    const vms = ok(await t.gql<{ vms: { edges: { node: { id: string; name: string } }[] } }>('{ vms(first: 10) { edges { node { id name } } } }')).vms.edges.map((e) => e.node);
    const b = vms.find((v) => v.name === 'cap-b')!;
    ok(await t.gql('mutation($id: ID!) { decommissionVm(id: $id) }', { id: b.id }));
    assert.deepEqual(await gaugesFree(t), { rule_number: 3, external_port_tcp: 3, external_port_udp: 4, lan_address: 1 });
    assert.deepEqual(freeOf(await healthCapacity(t)), { rule_number: 3, external_port_tcp: 3, external_port_udp: 4, lan_address: 1 });
    // ...and the freed address is handed out again.
    const again = ok(await t.gql<{ provisionVm: { internalIp: string } }>(PROVISION, { input: { name: 'cap-e' } })).provisionVm;
    assert.match(again.internalIp, /^192\.168\.64\.1[0-2]$/);
    assert.equal((await gaugesFree(t)).lan_address, 0);
  });

  test('another replica of the same database reports the same capacity, and sees changes it did not make', async () => {
    second = await startTestApp({ db: t.db, simulator: t.sim, env: ENV });
    assert.deepEqual(await gaugesFree(second), await gaugesFree(t));
    const rule = ok(await t.gql<{ vms: { edges: { node: { id: string; name: string } }[] } }>('{ vms(first: 10) { edges { node { id name } } } }')).vms.edges.find(
      (e) => e.node.name === 'cap-a',
    )!;
    ok(await t.gql('mutation($id: ID!) { decommissionVm(id: $id) }', { id: rule.node.id }));
    const want = await gaugesFree(t);
    assert.deepEqual(want, { rule_number: 4, external_port_tcp: 4, external_port_udp: 4, lan_address: 1 });
    // The other replica hears of the commit through PostgreSQL's notifications (or recounts after a few seconds).
    let seen = await gaugesFree(second);
    for (let i = 0; i < 100 && JSON.stringify(seen) !== JSON.stringify(want); i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await gaugesFree(second);
    }
    assert.deepEqual(seen, want);
  });
});
