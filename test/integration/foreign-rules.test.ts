// A foreign rule (outside NAT_RULE_RANGE, made by hand on the router) is read the same way by
// allocation and by drift: the port it catches for a transport is never handed out for that
// transport, and a rule of ours there is reported SHADOWED; for the other transport, neither.
// Real PostgreSQL, the simulator over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderDelete, renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { errorCode, ok, startTestApp, type TestApp } from '../support/app.js';

/** The one port the allocator may hand out. */
const POOL_PORT = 32100;
/** Where our rules sit when drift is asked about them (given explicitly, outside the pool). */
const HELD_PORT = 32200;
const FOREIGN = 100;

const PROVISION = `mutation($input: ProvisionVmInput!) { provisionVm(input: $input) { id portRules { id protocol externalPort } } }`;
const ADD = `mutation($vm: ID!, $protocol: Protocol!) { addPortRule(vmId: $vm, input: { internalPort: 8080, protocol: $protocol }) { id externalPort } }`;
const REMOVE = `mutation($id: ID!) { removePortRule(id: $id) }`;
const REPORT = `{ syncReport { items { kind ruleNumber portRule { id } } } }`;

type Case = { protocol?: string; externalPort?: string; tcp: boolean; udp: boolean };

// VyOS refuses ports unless the protocol is tcp, udp or tcp_udp (nat.py), so the other forms
// appear on a router without a destination port: they catch every port of their transports.
const CASES: Case[] = [
  { protocol: '!tcp', tcp: false, udp: true },
  { protocol: '6', tcp: true, udp: false },
  { protocol: '17', tcp: false, udp: true },
  { protocol: 'all', tcp: true, udp: true },
  { protocol: undefined, tcp: true, udp: true },
  { protocol: 'icmp', tcp: false, udp: false },
  { protocol: 'tcp', externalPort: `${POOL_PORT},${HELD_PORT}`, tcp: true, udp: false },
  { protocol: 'udp', externalPort: `${POOL_PORT - 50}-${HELD_PORT + 50}`, tcp: false, udp: true },
  { protocol: 'tcp_udp', externalPort: '!22,80', tcp: true, udp: true },
  { protocol: 'tcp_udp', externalPort: `!${POOL_PORT},${HELD_PORT}`, tcp: false, udp: false },
];

describe('a foreign rule is read alike by allocation and by drift', () => {
  let t: TestApp;
  let vmId: string;
  const ours = new Map<string, string>(); // protocol -> our port rule id on HELD_PORT

  before(async () => {
    t = await startTestApp({ env: { EXTERNAL_PORT_RANGE: `${POOL_PORT}-${POOL_PORT}` } });
    const vm = ok(
      await t.gql(PROVISION, {
        input: { name: 'probe', portRules: [{ internalPort: 80, externalPort: HELD_PORT, protocol: 'TCP' }, { internalPort: 53, externalPort: HELD_PORT, protocol: 'UDP' }] },
      }),
    ).provisionVm;
    vmId = vm.id;
    for (const r of vm.portRules) ours.set(r.protocol, r.id);
  });
  after(async () => {
    await t?.close();
  });

  /** The port handed out for `protocol`, or the error code; a rule that was added is removed again. */
  async function allocate(protocol: 'TCP' | 'UDP'): Promise<number | string | undefined> {
    const res = await t.gql(ADD, { vm: vmId, protocol });
    if (res.errors) return errorCode(res);
    const rule = ok(res).addPortRule;
    ok(await t.gql(REMOVE, { id: rule.id }));
    return rule.externalPort;
  }

  async function shadowed(): Promise<string[]> {
    const items: { kind: string; ruleNumber: number; portRule: { id: string } | null }[] = ok(await t.gql(REPORT)).syncReport.items;
    const byId = new Map([...ours].map(([protocol, id]) => [id, protocol]));
    return items.filter((i) => i.kind === 'SHADOWED' && i.ruleNumber === FOREIGN).map((i) => byId.get(i.portRule!.id)!).sort();
  }

  test('without a foreign rule the pool port is free for both transports and nothing is shadowed', async () => {
    assert.equal(await allocate('TCP'), POOL_PORT);
    assert.equal(await allocate('UDP'), POOL_PORT);
    assert.deepEqual(await shadowed(), []);
  });

  for (const c of CASES) {
    test(`protocol ${c.protocol ?? '(absent)'}, destination port ${c.externalPort ?? '(absent)'}`, async () => {
      const foreign: RouterRule = { ruleNumber: FOREIGN, protocol: c.protocol, externalPort: c.externalPort, translationAddress: '10.0.0.9', inboundInterface: 'eth0', disabled: false };
      t.sim.apply(renderRule(foreign, { syntax: '1.4' }));
      try {
        // Drift reads the whole router; allocation then works from that picture (issue 16).
        const expected = [...(c.tcp ? ['TCP'] : []), ...(c.udp ? ['UDP'] : [])];
        assert.deepEqual(await shadowed(), expected, 'drift');
        assert.equal(await allocate('TCP'), c.tcp ? 'POOL_EXHAUSTED' : POOL_PORT, 'allocation, TCP');
        assert.equal(await allocate('UDP'), c.udp ? 'POOL_EXHAUSTED' : POOL_PORT, 'allocation, UDP');
      } finally {
        t.sim.apply([renderDelete(FOREIGN)]);
      }
    });
  }

  test('an explicit port a foreign rule catches is refused for that transport only', async () => {
    t.sim.apply(renderRule({ ruleNumber: FOREIGN, protocol: '!tcp', translationAddress: '10.0.0.9', inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    try {
      ok(await t.gql(REPORT)); // the sync that sees it
      const add = (protocol: string) =>
        t.gql(`mutation($vm: ID!, $protocol: Protocol!) { addPortRule(vmId: $vm, input: { internalPort: 8081, externalPort: 32300, protocol: $protocol }) { id } }`, { vm: vmId, protocol });
      assert.equal(errorCode(await add('UDP')), 'CONFLICT');
      assert.equal(errorCode(await add('TCP_UDP')), 'CONFLICT');
      const tcp = ok(await add('TCP')).addPortRule;
      ok(await t.gql(REMOVE, { id: tcp.id }));
    } finally {
      t.sim.apply([renderDelete(FOREIGN)]);
    }
  });
});
