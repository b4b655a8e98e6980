import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Protocol } from '../../src/domain/entities/protocol';
import { importedVmName, planImport, type ImportFacts } from '../../src/drift/import-plan';
import type { RouterRule } from '../../src/vyos/types';

const web = { id: 'vm-1', name: 'web', internalIp: '192.168.64.100' };
const facts = (over: Partial<ImportFacts> = {}): ImportFacts => ({
  vms: new Map([[web.internalIp, web]]),
  vmNames: new Set(['web']),
  tcp: [{ ports: [32000, 32000], ruleNumber: 10000 }],
  udp: [],
  wanInterface: 'eth0',
  createVms: false,
  ...over,
});
const rule = (n: number, extra: Partial<RouterRule> = {}): RouterRule => ({
  ruleNumber: n,
  protocol: 'tcp',
  externalPort: '32100',
  internalPort: '80',
  translationAddress: web.internalIp,
  disabled: false,
  ...extra,
});
const reasons = (rules: RouterRule[], f = facts()) => planImport(rules, f).map((d) => ('reason' in d ? d.reason : 'adopted'));

describe('planImport', () => {
  it('adopts a rule for a known VM, keeping number, ports, protocol, source, description and state', () => {
    const [d] = planImport([rule(10500, { protocol: 'udp', externalPort: '32514', internalPort: undefined, sourceAddress: '198.51.100.0/24', description: 'syslog', disabled: true })], facts());
    assert.ok('adopt' in d);
    assert.deepEqual(d.adopt, {
      vm: { existing: web },
      ruleNumber: 10500,
      protocol: Protocol.UDP,
      externalPort: 32514,
      internalPort: 32514, // no translation port: the port is kept
      portCount: 1,
      sourceAddress: '198.51.100.0/24',
      description: 'syslog',
      enabled: false,
    });
  });

  it('creates a VM for an unknown address only when asked, one per address', () => {
    const two = [rule(10500, { translationAddress: '192.168.64.150' }), rule(10501, { translationAddress: '192.168.64.150', externalPort: '32101' })];
    assert.match(reasons(two)[0], /no VM has internal IP 192\.168\.64\.150/);
    const decisions = planImport(two, facts({ createVms: true }));
    assert.deepEqual(
      decisions.map((d) => ('adopt' in d ? d.adopt.vm : d.reason)),
      [{ create: { name: 'imported-192-168-64-150', internalIp: '192.168.64.150' } }, { create: { name: 'imported-192-168-64-150', internalIp: '192.168.64.150' } }],
    );
    assert.equal(importedVmName('10.0.0.1'), 'imported-10-0-0-1');
  });

  it('skips what a port rule cannot express, with the reason', () => {
    const got = reasons([
      rule(1, { protocol: undefined }),
      rule(2, { protocol: 'icmp' }),
      rule(3, { externalPort: '80,443' }),
      rule(4, { externalPort: '2000-1000' }),
      rule(5, { internalPort: 'http' }),
      rule(6, { translationAddress: '192.168.64.0/24' }),
      rule(7, { inboundInterface: 'eth1' }),
      rule(8, { sourceAddress: '!10.0.0.1' }),
      rule(9, { externalPort: '32000' }),
    ]);
    assert.match(got[0], /protocol \(none, meaning all\)/);
    assert.match(got[1], /protocol icmp/);
    assert.match(got[2], /not a single port/);
    assert.match(got[3], /not a single port or one range/);
    assert.match(got[4], /translation port http/);
    assert.match(got[5], /not one IPv4 address/);
    assert.match(got[6], /inbound interface eth1/);
    assert.match(got[7], /sourceAddress/);
    assert.match(got[8], /already forwarded by rule 10000/);
  });

  it('a port adopted earlier in the same import counts as taken (tcp_udp claims both)', () => {
    assert.deepEqual(reasons([rule(10, { protocol: 'tcp_udp', externalPort: '32200' }), rule(11, { protocol: 'udp', externalPort: '32200' })]), [
      'adopted',
      'external port 32200 is already forwarded by rule 10',
    ]);
  });

  // vyos-api.md §5 (destination port takes ranges); nftables keeps a port only inside the translation range
  it('adopts a range that keeps its ports (no translation port, or the same range), skips one that does not', () => {
    const got = planImport(
      [
        rule(20, { externalPort: '33000-33099', internalPort: undefined }),
        rule(21, { externalPort: '33100-33109', internalPort: '33100-33109' }),
        rule(22, { externalPort: '33200-33209', internalPort: '8000' }),
        rule(23, { externalPort: '33200-33209', internalPort: '8000-8009' }),
        rule(24, { externalPort: '33050', internalPort: undefined }),
        rule(25, { externalPort: '31990-32005', internalPort: undefined }),
      ],
      facts(),
    );
    const [a, b] = got.map((d) => ('adopt' in d ? [d.adopt.externalPort, d.adopt.portCount, d.adopt.internalPort] : d.reason));
    assert.deepEqual(a, [33000, 100, 33000]);
    assert.deepEqual(b, [33100, 10, 33100]);
    const rest = got.slice(2).map((d) => ('reason' in d ? d.reason : 'adopted'));
    assert.match(rest[0], /translation port 8000 with destination port range 33200-33209 does not keep each port/);
    assert.match(rest[1], /translation port 8000-8009/);
    assert.match(rest[2], /external port 33050 is already forwarded by rule 20/);
    assert.match(rest[3], /external ports 31990-32005 are already forwarded by rule 10000/);
  });
});
