// The simulator's pure parts: tree semantics, set-time validators, NAT verification, renderers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouterCommand } from '../../src/vyos/types';
import { applyCommands, emptyTree, leafValues, pathExists, type ConfigNode } from '../../src/simulator/config-tree';
import { renderBoot, renderSetCommands, showConfigJson, showConfigRaw } from '../../src/simulator/config-render';
import { parseBoot } from '../../src/simulator/config-boot';
import { verifyNat } from '../../src/simulator/nat-verify';
import { schemaFor, type SimVersion } from '../../src/simulator/schema';
import * as v from '../../src/simulator/value-validators';

const R = ['nat', 'destination', 'rule'];
const set = (...path: string[]): RouterCommand => ({ op: 'set', path });
const del = (...path: string[]): RouterCommand => ({ op: 'delete', path });

function build(commands: RouterCommand[], version: SimVersion = 'rolling', strict = false): ConfigNode {
  const result = applyCommands(emptyTree(), schemaFor(version), commands, { strict });
  if (!result.ok) throw new Error(result.error);
  return result.tree;
}

function errorOf(commands: RouterCommand[], version: SimVersion = 'rolling', base = emptyTree(), strict = false): string {
  const result = applyCommands(base, schemaFor(version), commands, { strict });
  assert.equal(result.ok, false, 'expected the commands to fail');
  return result.ok ? '' : result.error;
}

function rule(n: string, version: SimVersion = 'rolling'): RouterCommand[] {
  const iface = version === '1.3' ? set(...R, n, 'inbound-interface', 'eth0') : set(...R, n, 'inbound-interface', 'name', 'eth0');
  return [
    set(...R, n, 'protocol', 'tcp'),
    set(...R, n, 'destination', 'port', '8080'),
    iface,
    set(...R, n, 'translation', 'address', '10.0.0.10'),
    set(...R, n, 'translation', 'port', '80'),
  ];
}

test('§1 set of an existing path succeeds and a single-value leaf is replaced', () => {
  const tree = build([set(...R, '10', 'protocol', 'tcp'), set(...R, '10', 'protocol', 'tcp'), set(...R, '10', 'protocol', 'udp')]);
  assert.deepEqual(leafValues(tree, schemaFor('rolling'), [...R, '10', 'protocol']), ['udp']);
});

test('§1 a multi-value leaf gets values appended, once each', () => {
  const tree = build([
    set('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24'),
    set('interfaces', 'ethernet', 'eth2', 'address', '10.2.0.1/24'),
    set('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24'),
  ]);
  assert.deepEqual(leafValues(tree, schemaFor('rolling'), ['interfaces', 'ethernet', 'eth2', 'address']), ['10.1.0.1/24', '10.2.0.1/24']);
});

test('§1 a valueless node is set by path only, and refuses a value', () => {
  const tree = build([set(...R, '10', 'disable')]);
  assert.equal(pathExists(tree, schemaFor('rolling'), [...R, '10', 'disable']), true);
  assert.match(errorOf([set(...R, '10', 'disable', 'yes')]), /Configuration path: \[nat destination rule 10 disable yes\] is not valid\n {2}Set failed/);
});

test('§1 a value-taking node set without a value fails with "requires a value"', () => {
  assert.match(errorOf([set(...R, '10', 'protocol')]), /Configuration path: \[nat destination rule 10 protocol\] requires a value/);
  assert.match(errorOf([set(...R)]), /Configuration path: \[nat destination rule\] requires a value/);
});

test('§1 a path outside the schema is not valid', () => {
  const error = errorOf([set('nat', 'destination', 'rules', '10')]);
  assert.equal(error, '\n  Configuration path: [nat destination rules 10] is not valid\n  Set failed\n');
});

test('§1 deleting the last tag value removes the tag node but keeps typeless parents', () => {
  const schema = schemaFor('rolling');
  const tree = build([set(...R, '10', 'protocol', 'tcp')]);
  const result = applyCommands(tree, schema, [del(...R, '10')], { strict: false });
  assert.ok(result.ok);
  assert.equal(pathExists(result.tree, schema, ['nat', 'destination', 'rule']), false);
  assert.equal(pathExists(result.tree, schema, ['nat', 'destination']), true);
});

test('§1 deleting one value of a multi-value leaf keeps the others', () => {
  const schema = schemaFor('rolling');
  const tree = build([set('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24'), set('interfaces', 'ethernet', 'eth2', 'address', '10.2.0.1/24')]);
  const result = applyCommands(tree, schema, [del('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24')], { strict: false });
  assert.ok(result.ok);
  assert.deepEqual(leafValues(result.tree, schema, ['interfaces', 'ethernet', 'eth2', 'address']), ['10.2.0.1/24']);
});

test('§1 strict mode: deleting a missing path fails; otherwise it is a no-op', () => {
  const schema = schemaFor('rolling');
  assert.match(errorOf([del(...R, '99')], 'rolling', emptyTree(), true), /Cannot delete \[nat destination rule 99\]: path\/value does not exist/);
  assert.ok(applyCommands(emptyTree(), schema, [del(...R, '99')], { strict: false }).ok);
});

test('§1 a batch is one session: the first failure discards everything', () => {
  const schema = schemaFor('rolling');
  const result = applyCommands(emptyTree(), schema, [set(...R, '10', 'protocol', 'tcp'), set(...R, '10', 'bogus', 'x')], { strict: false });
  assert.equal(result.ok, false);
  assert.equal(result.ok ? -1 : result.index, 1);
});

test('§1 comment attaches to an existing node, shows in raw but not in json', () => {
  const schema = schemaFor('rolling');
  const tree = build([...rule('10'), { op: 'comment', path: [...R, '10', 'managed by vyos-vm-api'] }]);
  const raw = showConfigRaw(tree, schema, ['nat', 'destination']);
  assert.ok(raw.ok && raw.data.includes('/* managed by vyos-vm-api */\nrule 10 {'));
  const json = showConfigJson(tree, schema, ['nat', 'destination']);
  assert.ok(json.ok && !JSON.stringify(json.data).includes('managed'));
  assert.match(errorOf([{ op: 'comment', path: [...R, '11', 'x'] }]), /does not exist/);
});

test('§5 quotes and newlines are refused in every value, with vyatta-cfg texts', () => {
  assert.match(errorOf([set(...R, '10', 'description', 'a"b')]), /Cannot use the double quote \("\) character in a value string/);
  assert.match(errorOf([set(...R, '10', 'description', "it's")]), /Cannot use the single quote \('\) character in a value string/);
  assert.match(errorOf([set(...R, '10', 'description', 'a\nb')]), /Cannot use the newline character in a value string/);
  assert.ok(build([set(...R, '10', 'description', 'vm web (id 42)')]), 'spaces are fine');
});

test('§5 tag values must not contain whitespace', () => {
  assert.match(errorOf([set('service', 'https', 'api', 'keys', 'id', 'a b', 'key', 'k')]), /Tag node value name must not contain whitespace/);
});

test('§5 rule number must be 1-999999', () => {
  assert.match(errorOf([set(...R, '0', 'protocol', 'tcp')]), /NAT rule number must be between 1 and 999999\n {2}Value validation failed\n {2}Set failed/);
  assert.match(errorOf([set(...R, '1000000', 'protocol', 'tcp')]), /between 1 and 999999/);
  assert.ok(build([set(...R, '999999', 'protocol', 'tcp')]));
});

test('§5 protocol accepts names, numbers 0-255 and ! negation', () => {
  for (const ok of ['tcp', 'udp', 'tcp_udp', 'all', 'icmp', '6', '255', '!tcp', '!17']) assert.equal(v.ipProtocol(ok), null, ok);
  for (const bad of ['tcpx', '256', '', '!']) assert.notEqual(v.ipProtocol(bad), null, bad);
});

test('§5 match addresses take address, prefix, range and !; translation takes no !', () => {
  for (const ok of ['192.0.2.1', '192.0.2.0/24', '192.0.2.1-192.0.2.9', '!192.0.2.0/24']) assert.equal(v.natMatchAddress(ok), null, ok);
  for (const bad of ['192.0.2.1/24', '300.0.0.1', '192.0.2.9-192.0.2.1', 'host', '192.0.2.0/33']) assert.notEqual(v.natMatchAddress(bad), null, bad);
  assert.equal(v.natTranslationAddress('10.0.0.10'), null);
  assert.notEqual(v.natTranslationAddress('!10.0.0.10'), null);
});

test('§5 port-multi (1.4+) with its error texts; 1.3 has no port validator', () => {
  for (const ok of ['22', '2222,2223', '1000-2000', '!22', 'http', '1-65535']) assert.equal(v.portMulti(ok), null, ok);
  assert.deepEqual(v.portMulti('70000'), ['Error: 70000 is not a valid port']);
  assert.deepEqual(v.portMulti('2000-1000'), ['Error: 2000-1000 is not a valid port range']);
  assert.deepEqual(v.portMulti('nosuch'), ['Error: nosuch is not a valid service name']);
  assert.match(errorOf([set(...R, '10', 'destination', 'port', '70000')], '1.4'), /Error: 70000 is not a valid port\n {2}Value validation failed/);
  assert.ok(build([set(...R, '10', 'destination', 'port', '70000')], '1.3'));
});

test('§5 translation port-range (1.4+) accepts one port, a range or a name', () => {
  // vyos-1x src/validators/port-range: a list is neither a range nor numeric, so it is looked up as a service name
  for (const ok of ['80', '8000-8010', 'https', '000080']) assert.equal(v.portRange(ok), null, ok);
  assert.deepEqual(v.portRange('8010-8000'), ['Error: 8010-8000 is not a valid port or port range']);
  assert.deepEqual(v.portRange('70000'), ['Error: 70000 is not a valid port or port range']);
  assert.deepEqual(v.portRange('80,81'), ['Error: 80,81 is not a valid service name']);
  // port-multi: a range is at most five digits each side; numeric text is a port whatever its zeros
  assert.equal(v.portMulti('000080'), null);
  assert.deepEqual(v.portMulti('000080-90'), ['Error: 000080-90 is not a valid service name']);
  assert.deepEqual(v.portMulti('0-10'), ['Error: 0-10 is not a valid port range']);
});

test('§5 description is limited to 255 characters in 1.4+, free in 1.3', () => {
  const long = 'x'.repeat(256);
  assert.match(errorOf([set(...R, '10', 'description', long)], '1.4'), /Description too long \(limit 255 characters\)/);
  assert.ok(build([set(...R, '10', 'description', 'x'.repeat(255))], '1.4'));
  assert.ok(build([set(...R, '10', 'description', long)], '1.3'));
});

test('§5 inbound-interface is a leaf in 1.3 and a name/group node in 1.4+', () => {
  assert.ok(build([set(...R, '10', 'inbound-interface', 'eth0')], '1.3'));
  assert.match(errorOf([set(...R, '10', 'inbound-interface', 'name', 'eth0')], '1.3'), /is not valid/);
  assert.ok(build([set(...R, '10', 'inbound-interface', 'name', 'eth0')], '1.4'));
  assert.ok(build([set(...R, '10', 'inbound-interface', 'name', '!eth*')], '1.4'));
  assert.match(errorOf([set(...R, '10', 'inbound-interface', 'eth0')], '1.4'), /is not valid/);
  assert.match(errorOf([set(...R, '10', 'inbound-interface', 'name', 'foo0')], '1.4'), /Value validation failed/);
});

test('§5 commit-time NAT verify, 1.4+ texts', () => {
  const noTranslation = build([set(...R, '10', 'protocol', 'tcp'), set(...R, '10', 'destination', 'port', '22')]);
  assert.equal(verifyNat(noTranslation, 'rolling').error, 'Destination NAT configuration error in rule 10: translation requires address and/or port');
  const excluded = build([set(...R, '10', 'exclude')]);
  assert.equal(verifyNat(excluded, 'rolling').error, null);
  const noProtocol = build([set(...R, '10', 'destination', 'port', '22'), set(...R, '10', 'translation', 'address', '10.0.0.1')]);
  assert.equal(verifyNat(noProtocol, 'rolling').error, 'Destination NAT configuration error in rule 10: ports can only be specified when protocol is either tcp, udp or tcp_udp!');
  assert.equal(verifyNat(build(rule('10')), 'rolling').error, null);
  assert.equal(verifyNat(build([...rule('10').slice(0, 2), set(...R, '10', 'translation', 'address', '10.0.0.1')]), 'rolling').error, null, 'interface optional');
});

test('§5 commit-time NAT verify, 1.3 texts: inbound-interface required, one reason per line', () => {
  const noIface = build([set(...R, '10', 'protocol', 'tcp'), set(...R, '10', 'translation', 'address', '10.0.0.1')], '1.3');
  assert.equal(verifyNat(noIface, '1.3').error, 'Destination NAT configuration error in rule 10:\ninbound-interface not specified');
  const noAddress = build([set(...R, '10', 'inbound-interface', 'eth0')], '1.3');
  assert.equal(verifyNat(noAddress, '1.3').error, 'Destination NAT configuration error in rule 10:\ntranslation address not specified');
  const noProtocol = build([set(...R, '10', 'inbound-interface', 'eth0'), set(...R, '10', 'translation', 'address', '10.0.0.1'), set(...R, '10', 'translation', 'port', '80')], '1.3');
  assert.equal(verifyNat(noProtocol, '1.3').error, 'Destination NAT configuration error in rule 10:\nports can only be specified when protocol is either tcp, udp or tcp_udp!');
  assert.equal(verifyNat(build(rule('10', '1.3'), '1.3'), '1.3').error, null);
});

test('§5 1.4+ warns (does not fail) about an inbound interface that does not exist', () => {
  const tree = build([...rule('10').filter((c) => !c.path.includes('inbound-interface')), set(...R, '10', 'inbound-interface', 'name', 'eth7')]);
  const verdict = verifyNat(tree, 'rolling');
  assert.equal(verdict.error, null);
  assert.deepEqual(verdict.warnings, ['WARNING: NAT interface "eth7" for destination NAT rule "10" does not exist!']);
});

test('§3 showConfig JSON: strings everywhere, one value a string, several a list, valueless {}', () => {
  const schema = schemaFor('rolling');
  const tree = build([...rule('100'), set(...R, '100', 'disable'), set('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24'), set('interfaces', 'ethernet', 'eth2', 'address', '10.2.0.1/24')]);
  const nat = showConfigJson(tree, schema, ['nat', 'destination']);
  assert.deepEqual(nat, {
    ok: true,
    data: { rule: { '100': { destination: { port: '8080' }, disable: {}, 'inbound-interface': { name: 'eth0' }, protocol: 'tcp', translation: { address: '10.0.0.10', port: '80' } } } },
  });
  assert.deepEqual(showConfigJson(tree, schema, ['interfaces', 'ethernet', 'eth2']), { ok: true, data: { address: ['10.1.0.1/24', '10.2.0.1/24'] } });
});

test('§3 showConfig of a leaf path is {leaf: value}; empty and invalid paths are errors', () => {
  const schema = schemaFor('rolling');
  const tree = build(rule('100'));
  assert.deepEqual(showConfigJson(tree, schema, [...R, '100', 'protocol']), { ok: true, data: { protocol: 'tcp' } });
  assert.deepEqual(showConfigJson(tree, schema, [...R, '200']), { ok: false, error: 'Configuration under specified path is empty\n' });
  assert.deepEqual(showConfigJson(tree, schema, ['nat', 'nonsense']), { ok: false, error: 'Specified configuration path is not valid\n' });
});

test('§3 tag values are listed in numeric order', () => {
  const tree = build([...rule('100'), ...rule('20'), ...rule('3')]);
  const shown = showConfigJson(tree, schemaFor('rolling'), [...R]);
  assert.ok(shown.ok);
  assert.deepEqual(Object.keys(shown.data), ['3', '20', '100']);
});

test('§2 exists/returnValues re-split a path on whitespace (vyos.config._make_path)', () => {
  const schema = schemaFor('rolling');
  const tree = build(rule('10'));
  assert.equal(pathExists(tree, schema, ['nat destination', 'rule', '10']), true);
  assert.equal(pathExists(tree, schema, [...R, '10', 'protocol', 'tcp']), true, 'trailing value');
  assert.equal(pathExists(tree, schema, [...R, '10', 'protocol', 'udp']), false);
  assert.deepEqual(leafValues(tree, schema, [...R, '11', 'protocol']), []);
});

test('§2 show configuration commands: flat set lines with single-quoted values', () => {
  const tree = build([...rule('10'), set(...R, '10', 'description', 'vm web'), set(...R, '10', 'disable')]);
  assert.deepEqual(renderSetCommands(tree), [
    "set nat destination rule 10 description 'vm web'",
    "set nat destination rule 10 destination port '8080'",
    'set nat destination rule 10 disable',
    "set nat destination rule 10 inbound-interface name 'eth0'",
    "set nat destination rule 10 protocol 'tcp'",
    "set nat destination rule 10 translation address '10.0.0.10'",
    "set nat destination rule 10 translation port '80'",
  ]);
});

test('§2 config.boot text round-trips through the reader (config-file save/load)', () => {
  const schema = schemaFor('rolling');
  const tree = build([
    ...rule('10'),
    set(...R, '10', 'description', 'vm web (id 42)'),
    set(...R, '10', 'log'),
    set('interfaces', 'ethernet', 'eth2', 'address', '10.1.0.1/24'),
    set('interfaces', 'ethernet', 'eth2', 'address', '10.2.0.1/24'),
    { op: 'comment', path: [...R, '10', 'ours'] },
  ]);
  const text = renderBoot(tree);
  assert.match(text, /description "vm web \(id 42\)"/);
  const again = build(parseBoot(text, schema));
  assert.equal(renderBoot(again), text);
  assert.throws(() => parseBoot('nat { bogus { } }', schema), /is not valid/);
});
