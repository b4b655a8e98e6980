// VYOS_FIREWALL=manage's rule, pure: what is rendered, read back, planned and undone, and that the
// path guard lets exactly those shapes through (docs/operations.md "Making the port reachable").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commandsToConfigJson } from '../../src/vyos/config-json.js';
import { FORWARD_RULE_PATH, MANAGED_DESCRIPTION, planManagedAccept, readManagedState, renderManagedAccept, restoreManaged } from '../../src/vyos/managed-accept.js';
import { unsafeReason } from '../../src/vyos/path-guard.js';
import type { RouterCommand } from '../../src/vyos/types.js';

const ours = { ruleNumber: 9000, address: '192.168.64.100-192.168.64.199' };
const node = (commands: RouterCommand[]) => commandsToConfigJson(commands, [...FORWARD_RULE_PATH, '9000']);

describe('the managed accept rule', () => {
  test('reads back as ours and exact; another address is ours but drifted; another description is foreign', () => {
    assert.deepEqual(readManagedState(node(renderManagedAccept(ours)), ours), { kind: 'ours', address: ours.address, exact: true });
    assert.deepEqual(readManagedState(node(renderManagedAccept({ ...ours, address: '10.0.0.1' })), ours), { kind: 'ours', address: '10.0.0.1', exact: false });
    assert.deepEqual(readManagedState(node([{ op: 'set', path: [...FORWARD_RULE_PATH, '9000', 'action', 'drop'] }]), ours), { kind: 'foreign' });
    assert.deepEqual(readManagedState(null, ours), { kind: 'absent' });
  });

  test('plans: write when absent, nothing when exact, rewrite when drifted, delete when no rule is enabled, never over a foreign rule', () => {
    assert.deepEqual(planManagedAccept(ours, 9000, { kind: 'absent' }).inverse, [{ op: 'delete', path: [...FORWARD_RULE_PATH, '9000'] }]);
    assert.equal(planManagedAccept(ours, 9000, { kind: 'ours', address: ours.address, exact: true }).commands.length, 0);
    const drifted = planManagedAccept(ours, 9000, { kind: 'ours', address: '10.0.0.1', exact: false });
    assert.deepEqual(drifted.commands[0], { op: 'delete', path: [...FORWARD_RULE_PATH, '9000'] });
    assert.ok(drifted.inverse.some((c) => c.path.includes('10.0.0.1')), 'the undo puts the old address back');
    assert.deepEqual(planManagedAccept(null, 9000, { kind: 'ours', address: ours.address, exact: true }).commands, [{ op: 'delete', path: [...FORWARD_RULE_PATH, '9000'] }]);
    assert.deepEqual(planManagedAccept(ours, 9000, { kind: 'foreign' }), { commands: [], inverse: [], refused: true });
  });

  test('restores from what the router holds now: nothing if already back, a delete only if something is there', () => {
    assert.deepEqual(restoreManaged({ kind: 'absent' }, { kind: 'absent' }, 9000), []);
    assert.deepEqual(restoreManaged({ kind: 'absent' }, { kind: 'ours', address: ours.address, exact: true }, 9000), [{ op: 'delete', path: [...FORWARD_RULE_PATH, '9000'] }]);
    assert.deepEqual(restoreManaged({ kind: 'ours', address: ours.address, exact: true }, { kind: 'absent' }, 9000), renderManagedAccept(ours));
    assert.deepEqual(restoreManaged({ kind: 'foreign' }, { kind: 'absent' }, 9000), []);
  });

  test('the path guard passes what is rendered and refuses anything else under firewall', () => {
    for (const c of [...renderManagedAccept(ours), { op: 'delete' as const, path: [...FORWARD_RULE_PATH, '9000'] }]) assert.equal(unsafeReason(c), null, c.path.join(' '));
    const fw = (...p: string[]): RouterCommand => ({ op: 'set', path: [...FORWARD_RULE_PATH, '9000', ...p] });
    assert.match(unsafeReason(fw('action', 'drop'))!, /only accepts/);
    assert.match(unsafeReason(fw('description', 'ops'))!, /description/);
    assert.match(unsafeReason(fw('destination', 'address', '10.0.0.0/8; rm'))!, /not an IPv4 address or range/);
    assert.match(unsafeReason(fw('source', 'address', '10.0.0.1'))!, /not one we manage/);
    assert.match(unsafeReason({ op: 'set', path: ['firewall', 'ipv4', 'name', 'X', 'rule', '1', 'action', 'accept'] })!, /only firewall ipv4 forward filter rules/);
    assert.match(unsafeReason({ op: 'delete', path: [...FORWARD_RULE_PATH, '09'] })!, /rule number/);
    assert.equal(MANAGED_DESCRIPTION.length <= 255, true);
  });
});
