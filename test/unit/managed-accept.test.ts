// The rules we own beside the NAT rules (VYOS_FIREWALL=manage's accept rule, VYOS_HAIRPIN's
// masquerade rule), pure: what is rendered, read back, planned and undone, and that the path
// guard lets exactly those shapes through (docs/operations.md "Making the port reachable").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { masqueradeRule, MASQUERADE_DESCRIPTION } from '../../src/domain/hairpin.js';
import { commandsToConfigJson } from '../../src/vyos/config-json.js';
import { acceptRule, FORWARD_RULE_PATH, MANAGED_DESCRIPTION } from '../../src/vyos/managed-accept.js';
import { planOwned, readOwned, renderOwned, restoreOwned } from '../../src/vyos/owned-rule.js';
import { unsafeReason } from '../../src/vyos/path-guard.js';
import type { RouterCommand } from '../../src/vyos/types.js';

const ours = acceptRule(9000, '192.168.64.100-192.168.64.199');
const node = (commands: RouterCommand[]) => commandsToConfigJson(commands, ours.path) as Record<string, unknown> | null;
const del: RouterCommand = { op: 'delete', path: [...FORWARD_RULE_PATH, '9000'] };

describe('owned rules', () => {
  test('read back: ours and exact; another address is ours but not exact; another description is foreign', () => {
    assert.deepEqual(readOwned(node(renderOwned(ours)), ours).kind, 'ours');
    assert.equal((readOwned(node(renderOwned(ours)), ours) as { exact: boolean }).exact, true);
    const moved = node(renderOwned(acceptRule(9000, '10.0.0.1')));
    assert.equal((readOwned(moved, ours) as { exact: boolean }).exact, false);
    assert.deepEqual(readOwned(node([{ op: 'set', path: [...ours.path, 'action', 'drop'] }]), ours), { kind: 'foreign' });
    assert.deepEqual(readOwned(null, ours), { kind: 'absent' });
  });

  test('plans: write when absent, nothing when exact, rewrite when drifted, delete when unwanted, never over a foreign rule', () => {
    assert.deepEqual(planOwned(ours, ours.path, { kind: 'absent' }).inverse, [del]);
    const exact = readOwned(node(renderOwned(ours)), ours);
    assert.equal(planOwned(ours, ours.path, exact).commands.length, 0);
    const drifted = planOwned(ours, ours.path, readOwned(node(renderOwned(acceptRule(9000, '10.0.0.1'))), ours));
    assert.deepEqual(drifted.commands[0], del);
    assert.ok(drifted.inverse.some((c) => c.path.includes('10.0.0.1')), 'the undo puts the old address back');
    assert.deepEqual(planOwned(null, ours.path, exact).commands, [del]);
    assert.deepEqual(planOwned(ours, ours.path, { kind: 'foreign' }), { commands: [], inverse: [], refused: true });
  });

  test('restores from what the router holds now: nothing if already back, a delete only if something is there', () => {
    const exact = readOwned(node(renderOwned(ours)), ours);
    assert.deepEqual(restoreOwned({ kind: 'absent' }, { kind: 'absent' }, ours.path), []);
    assert.deepEqual(restoreOwned({ kind: 'absent' }, exact, ours.path), [del]);
    assert.deepEqual(
      restoreOwned(exact, { kind: 'absent' }, ours.path).map((c) => c.path.join(' ')).sort(),
      renderOwned(ours).map((c) => c.path.join(' ')).sort(),
    );
    assert.deepEqual(restoreOwned({ kind: 'foreign' }, { kind: 'absent' }, ours.path), []);
  });

  test('the path guard passes what is rendered and refuses anything else under firewall and nat source', () => {
    const hairpin = { lanInterface: 'eth1', publicAddress: '203.0.113.10', lanSubnet: '192.168.64.0/24', ruleOffset: 100_000, snatRule: 9000, byDefault: true };
    const pool = { first: '192.168.64.100', last: '192.168.64.199' };
    for (const syntax of ['1.3', '1.4'] as const) {
      for (const c of [...renderOwned(ours), del, ...renderOwned(masqueradeRule(hairpin, pool, syntax)), { op: 'delete' as const, path: ['nat', 'source', 'rule', '9000'] }]) {
        assert.equal(unsafeReason(c), null, c.path.join(' '));
      }
    }
    const fw = (...p: string[]): RouterCommand => ({ op: 'set', path: [...ours.path, ...p] });
    assert.match(unsafeReason(fw('action', 'drop'))!, /only accepts/);
    assert.match(unsafeReason(fw('description', 'ops'))!, /description/);
    assert.match(unsafeReason(fw('destination', 'address', '10.0.0.0/8; rm'))!, /not an IPv4 address or range/);
    assert.match(unsafeReason(fw('source', 'address', '10.0.0.1'))!, /not one we manage/);
    assert.match(unsafeReason({ op: 'set', path: ['firewall', 'ipv4', 'name', 'X', 'rule', '1', 'action', 'accept'] })!, /only firewall ipv4 forward filter rules/);
    assert.match(unsafeReason({ op: 'delete', path: [...FORWARD_RULE_PATH, '09'] })!, /rule number/);
    const snat = (...p: string[]): RouterCommand => ({ op: 'set', path: ['nat', 'source', 'rule', '9000', ...p] });
    assert.match(unsafeReason(snat('translation', 'address', '198.51.100.1'))!, /only masquerades/);
    assert.match(unsafeReason(snat('description', 'x'))!, /description/);
    assert.ok(MANAGED_DESCRIPTION.length <= 255 && MASQUERADE_DESCRIPTION.length <= 255);
  });
});
