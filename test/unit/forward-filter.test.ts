// The forward filter's verdict on a port-forwarded connection (docs/operations.md "Making the port
// reachable"), from configs written as the `set` commands an operator types on VyOS 1.4+.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkForwarding, MAX_FINDINGS } from '../../src/drift/firewall-check.js';
import type { ExpectedRule } from '../../src/drift/drift-diff.js';
import { commandsToConfigJson } from '../../src/vyos/config-json.js';
import { forwardOutcome, packetFieldsRead, readFirewall13, readFirewallIpv4, type ForwardedPacket } from '../../src/vyos/forward-filter.js';
import { addressCatches } from '../../src/vyos/traffic-match.js';
import type { RouterCommand } from '../../src/vyos/types.js';
import { rule } from '../support/router-rules.js';

/** `set firewall ipv4 ...` lines -> what showConfig ["firewall","ipv4"] returns. */
function firewall(...lines: string[]) {
  const commands: RouterCommand[] = lines.map((l) => ({ op: 'set', path: l.replace(/^set /, '').split(' ') }));
  const json = commandsToConfigJson(commands, ['firewall', 'ipv4'], {
    valueless: new Set(['disable', 'log']),
    multiValue: new Set(['state']),
    tagNodes: new Set(['rule', 'name']),
  });
  return readFirewallIpv4(json);
}

const packet = (extra: Partial<ForwardedPacket> = {}): ForwardedPacket => ({ transport: 'tcp', address: '192.168.64.100', port: 80, inboundInterface: 'eth0', ...extra });
const F = 'set firewall ipv4 forward filter';

describe('forward filter verdict (firewall.xml.in; first packet after DNAT)', () => {
  it('no forward filter, or one without default-action, accepts', () => {
    assert.equal(forwardOutcome(firewall(), packet()).verdict, 'accept');
    assert.equal(forwardOutcome(firewall(`${F} rule 10 action drop`, `${F} rule 10 destination address 10.9.9.9`), packet()).verdict, 'accept');
  });

  it('default-action drop drops, and established/related rules do not help the first packet', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 state established`, `${F} rule 10 state related`);
    assert.deepEqual(forwardOutcome(fw, packet()), { verdict: 'drop', by: 'forward filter default-action drop' });
  });

  it('the usual idiom, connection-status nat destination, accepts every forward', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 20 action accept`, `${F} rule 20 connection-status nat destination`);
    assert.equal(forwardOutcome(fw, packet()).verdict, 'accept');
    assert.equal(forwardOutcome(fw, packet({ transport: 'udp', port: 5060 })).verdict, 'accept');
  });

  it('a rule for the VM port and protocol accepts that forward only', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 30 action accept`, `${F} rule 30 protocol tcp`, `${F} rule 30 destination port 22,443`, `${F} rule 30 destination address 192.168.64.0/24`);
    assert.equal(forwardOutcome(fw, packet({ port: 22 })).verdict, 'accept');
    assert.equal(forwardOutcome(fw, packet({ port: 80 })).verdict, 'drop');
    assert.equal(forwardOutcome(fw, packet({ port: 22, transport: 'udp' })).verdict, 'drop');
    assert.equal(forwardOutcome(fw, packet({ port: 22, address: '10.0.0.5' })).verdict, 'drop');
  });

  it('rules are taken in number order, the first match decides, and disabled rules are skipped', () => {
    const fw = firewall(`${F} rule 5 action drop`, `${F} rule 5 destination address 192.168.64.100`, `${F} rule 1 action accept`, `${F} rule 1 destination port 80`, `${F} rule 1 disable`);
    assert.deepEqual(forwardOutcome(fw, packet()), { verdict: 'drop', by: 'forward filter rule 5 (drop)' });
    assert.equal(forwardOutcome(fw, packet({ address: '192.168.64.101' })).verdict, 'accept');
  });

  it('an inbound interface other than the WAN does not match; the WAN, a wildcard or a negation of another does', () => {
    const on = (spec: string) => forwardOutcome(firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 inbound-interface name ${spec}`), packet()).verdict;
    assert.equal(on('eth1'), 'drop');
    assert.equal(on('eth0'), 'accept');
    assert.equal(on('eth*'), 'accept');
    assert.equal(on('!eth1'), 'accept');
  });

  it('a condition it cannot evaluate for every client (a source address) is UNCERTAIN, not accepted', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 source address 203.0.113.0/24`);
    const o = forwardOutcome(fw, packet());
    assert.equal(o.verdict, 'unknown');
    assert.match(o.by, /default-action drop, unless/);
    // ...but a drop for everyone before it decides
    const dropFirst = firewall(`${F} default-action drop`, `${F} rule 1 action drop`, `${F} rule 10 action accept`, `${F} rule 10 source address 203.0.113.0/24`);
    assert.equal(forwardOutcome(dropFirst, packet()).verdict, 'drop');
  });

  it('a jump enters the named chain; its return comes back and the forward filter goes on', () => {
    const fw = firewall(
      `${F} default-action drop`,
      `${F} rule 10 action jump`,
      `${F} rule 10 jump-target VMS`,
      'set firewall ipv4 name VMS default-action return',
      'set firewall ipv4 name VMS rule 1 action accept',
      'set firewall ipv4 name VMS rule 1 destination address 192.168.64.100',
    );
    assert.deepEqual(forwardOutcome(fw, packet()), { verdict: 'accept', by: 'name VMS rule 1 (accept)' });
    assert.deepEqual(forwardOutcome(fw, packet({ address: '192.168.64.7' })), { verdict: 'drop', by: 'forward filter default-action drop' });
    // a named chain without default-action drops at its end
    const noDefault = firewall(`${F} rule 10 action jump`, `${F} rule 10 jump-target VMS`, 'set firewall ipv4 name VMS rule 1 action accept', 'set firewall ipv4 name VMS rule 1 protocol udp');
    assert.equal(forwardOutcome(noDefault, packet()).verdict, 'drop');
    assert.equal(forwardOutcome(noDefault, packet({ transport: 'udp' })).verdict, 'accept');
  });

  it('return in the forward filter skips its default-action and meets the chain policy, accept (nftables.j2)', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action return`, `${F} rule 10 destination port 80`);
    assert.equal(forwardOutcome(fw, packet()).verdict, 'accept');
    assert.equal(forwardOutcome(fw, packet({ port: 81 })).verdict, 'drop');
  });

  it('addresses: one address, a prefix, a range, each negated with !', () => {
    assert.equal(addressCatches('192.168.64.100', '192.168.64.100'), true);
    assert.equal(addressCatches('192.168.64.0/24', '192.168.64.100'), true);
    assert.equal(addressCatches('192.168.65.0/24', '192.168.64.100'), false);
    assert.equal(addressCatches('0.0.0.0/0', '192.168.64.100'), true);
    assert.equal(addressCatches('192.168.64.90-192.168.64.110', '192.168.64.100'), true);
    assert.equal(addressCatches('!192.168.64.100', '192.168.64.100'), false);
    assert.equal(addressCatches('!10.0.0.0/8', '192.168.64.100'), true);
    assert.equal(addressCatches('NET-GROUP', '192.168.64.100'), null);
  });
});

describe('VyOS 1.3 rulesets bound to interfaces (vyatta-cfg-firewall, equuleus)', () => {
  const set13 = (...lines: string[]) => {
    const commands: RouterCommand[] = lines.map((l) => ({ op: 'set', path: l.split(' ') }));
    const json = (base: string[]) => commandsToConfigJson(commands, base, { valueless: new Set(['disable']), tagNodes: new Set(['rule', 'name', 'ethernet']) });
    return readFirewall13(json(['firewall']), json(['interfaces', 'ethernet']), 'eth0');
  };

  it('no binding filters nothing; `in` on the WAN with an unset default-action drops; accept returns to the hook and passes', () => {
    assert.equal(forwardOutcome(set13('firewall name WAN_IN rule 10 action drop', 'interfaces ethernet eth1 description LAN'), packet()).verdict, 'accept');
    const bound = set13('firewall name WAN_IN rule 10 action accept', 'firewall name WAN_IN rule 10 state established enable', 'interfaces ethernet eth0 firewall in name WAN_IN');
    assert.deepEqual(forwardOutcome(bound, packet()), { verdict: 'drop', by: 'name WAN_IN default-action drop (not set)' });
    const opened = set13('firewall name WAN_IN rule 10 action accept', 'firewall name WAN_IN rule 10 destination port 80', 'firewall name WAN_IN rule 10 protocol tcp', 'interfaces ethernet eth0 firewall in name WAN_IN');
    assert.equal(forwardOutcome(opened, packet()).verdict, 'accept');
    assert.equal(forwardOutcome(opened, packet({ port: 22 })).verdict, 'drop');
    assert.equal(opened.label, 'VyOS 1.3 rulesets (in WAN_IN on eth0)');
  });

  it('a ruleset bound `out` elsewhere may be the way to the VM: uncertain unless it accepts', () => {
    const out = set13('firewall name LAN_OUT default-action drop', 'interfaces ethernet eth1 firewall out name LAN_OUT');
    assert.equal(forwardOutcome(out, packet()).verdict, 'unknown');
    const open = set13('firewall name LAN_OUT default-action accept', 'interfaces ethernet eth1 firewall out name LAN_OUT');
    assert.equal(forwardOutcome(open, packet()).verdict, 'accept');
  });
});

describe('checkForwarding: every enabled port rule', () => {
  const expected = (n: number, extra: Parameters<typeof rule>[1] = {}): ExpectedRule => ({ portRuleId: `id-${n}`, expected: rule(n, extra) });

  it('counts accepted, dropped and uncertain rules; tcp_udp is dropped when one transport is', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 protocol tcp`, `${F} rule 10 destination port 80`);
    const report = checkForwarding(fw, [expected(10001), expected(10002, { protocol: 'tcp_udp' }), expected(10003, { internalPort: '22' }), expected(10004, { disabled: true })], 'eth0');
    assert.deepEqual([report.accepted, report.dropped, report.uncertain], [1, 2, 0]);
    assert.deepEqual(
      report.findings.map((f) => [f.ruleNumber, f.verdict, f.transports]),
      [
        [10002, 'DROPPED', 'udp'],
        [10003, 'DROPPED', 'tcp'],
      ],
    );
    assert.equal(report.defaultAction, 'drop');
    assert.match(report.detail, /drops forwarded traffic to 2 port rules/);
  });

  it('a port range is accepted only when every port of it is (the filter sees the kept port numbers)', () => {
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 protocol tcp`, `${F} rule 10 destination port 30000-30049`);
    const range = (n: number, ports: string) => expected(n, { externalPort: ports, internalPort: undefined });
    const report = checkForwarding(fw, [range(10001, '30000-30049'), range(10002, '30000-30050'), range(10003, '30040-30060')], 'eth0');
    assert.deepEqual([report.accepted, report.dropped], [1, 2]);
    assert.deepEqual(report.findings.map((f) => f.ruleNumber), [10002, 10003]);
  });

  it('evaluates once per value the filter reads: a port or address condition in a jumped-to chain still tells rules apart', () => {
    assert.deepEqual(packetFieldsRead(firewall()), { address: false, port: false });
    assert.deepEqual(packetFieldsRead(firewall(`${F} default-action drop`, `${F} rule 10 action accept`, `${F} rule 10 protocol tcp`)), { address: false, port: false });
    const fw = firewall(`${F} default-action drop`, `${F} rule 10 action jump`, `${F} rule 10 jump-target VMS`, 'set firewall ipv4 name VMS rule 5 action accept', 'set firewall ipv4 name VMS rule 5 destination address 192.168.64.7');
    assert.deepEqual(packetFieldsRead(fw), { address: true, port: false });
    const report = checkForwarding(fw, [expected(10001, { translationAddress: '192.168.64.7' }), expected(10002, { translationAddress: '192.168.64.8' })], 'eth0');
    assert.deepEqual(report.findings.map((f) => [f.ruleNumber, f.verdict]), [[10002, 'DROPPED']]);
  });

  it(`lists the first ${MAX_FINDINGS} findings and counts them all`, () => {
    const fw = firewall(`${F} default-action drop`);
    const report = checkForwarding(fw, Array.from({ length: 250 }, (_, i) => expected(10000 + i, { internalPort: String(1000 + i) })), 'eth0');
    assert.equal(report.dropped, 250);
    assert.equal(report.findings.length, MAX_FINDINGS);
  });
});
