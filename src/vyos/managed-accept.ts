// VYOS_FIREWALL=manage: the one forward-filter rule this server owns (docs/operations.md "Making
// the port reachable"). It accepts what destination NAT translated to an address of the VM pool,
// so every port rule's traffic passes and nothing else does. Pure: render, read, plan, undo.
//
// Nodes and values from vyos-1x interface-definitions/include/firewall/ (sagitta and current,
// Oct 2024): `action accept` (action-forward.xml.i), `connection-status nat destination`
// (`ct status dnat`, firewall.py parse_rule), `destination address a-b` (address.xml.i,
// ipv4-range), `description` (generic-description.xml.i, at most 255 characters).
import type { RouterCommand } from './types.js';

export const FORWARD_RULE_PATH = ['firewall', 'ipv4', 'forward', 'filter', 'rule'] as const;
/** Marks the rule as ours: a rule at our number without it is the operator's, never touched. */
export const MANAGED_DESCRIPTION = 'vyos-vm-api: accept port forwards to the VM pool';

/** The managed rule: its number (VYOS_FIREWALL_RULE) and the pool it accepts (LAN_POOL). */
export interface ManagedAccept {
  ruleNumber: number;
  /** `a-b`, or one address when the pool has one */
  address: string;
}

/** What the router holds at our number. */
export type ManagedState = { kind: 'absent' } | { kind: 'ours'; address: string | null; exact: boolean } | { kind: 'foreign' };

export function poolAddress(first: string, last: string): string {
  return first === last ? first : `${first}-${last}`;
}

export function renderManagedAccept(m: ManagedAccept): RouterCommand[] {
  const base = [...FORWARD_RULE_PATH, String(m.ruleNumber)];
  return [
    { op: 'set', path: [...base, 'action', 'accept'] },
    { op: 'set', path: [...base, 'connection-status', 'nat', 'destination'] },
    { op: 'set', path: [...base, 'destination', 'address', m.address] },
    { op: 'set', path: [...base, 'description', MANAGED_DESCRIPTION] },
  ];
}

export function deleteManagedAccept(ruleNumber: number): RouterCommand {
  return { op: 'delete', path: [...FORWARD_RULE_PATH, String(ruleNumber)] };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The rule node as `showConfig [...FORWARD_RULE_PATH, N]` returns it (its children; null when
 * absent), read against what we render.
 */
export function readManagedState(node: unknown, desired: ManagedAccept): ManagedState {
  if (!isObject(node) || Object.keys(node).length === 0) return { kind: 'absent' };
  if (node.description !== MANAGED_DESCRIPTION) return { kind: 'foreign' };
  const destination = isObject(node.destination) ? node.destination : {};
  const address = typeof destination.address === 'string' ? destination.address : null;
  const status = isObject(node['connection-status']) ? node['connection-status'].nat : undefined;
  const exact =
    Object.keys(node).sort().join() === 'action,connection-status,description,destination' &&
    node.action === 'accept' &&
    status === 'destination' &&
    Object.keys(destination).join() === 'address' &&
    address === desired.address;
  return { kind: 'ours', address, exact };
}

/**
 * The commands that bring our rule to `desired` (null: no port rule is enabled, so the rule goes),
 * and their inverse. A foreign rule at our number is never written: `refused` says so.
 */
export function planManagedAccept(desired: ManagedAccept | null, ruleNumber: number, before: ManagedState): { commands: RouterCommand[]; inverse: RouterCommand[]; refused: boolean } {
  if (before.kind === 'foreign') return { commands: [], inverse: [], refused: true };
  const restore = before.kind === 'ours' && before.address ? renderManagedAccept({ ruleNumber, address: before.address }) : [];
  if (desired === null) {
    return before.kind === 'absent' ? { commands: [], inverse: [], refused: false } : { commands: [deleteManagedAccept(ruleNumber)], inverse: restore, refused: false };
  }
  if (before.kind === 'ours' && before.exact) return { commands: [], inverse: [], refused: false };
  const commands = [...(before.kind === 'ours' ? [deleteManagedAccept(ruleNumber)] : []), ...renderManagedAccept(desired)];
  return { commands, inverse: [deleteManagedAccept(ruleNumber), ...restore], refused: false };
}

/** Whether the router holds at our number what it held before (`before`), judged from a fresh read. */
export function sameState(before: ManagedState, now: ManagedState): boolean {
  if (before.kind !== now.kind) return false;
  return before.kind !== 'ours' || now.kind !== 'ours' || (before.address === now.address && before.exact === now.exact);
}

/** The commands that put our number back as it was before a batch, from what it holds now. */
export function restoreManaged(before: ManagedState, now: ManagedState, ruleNumber: number): RouterCommand[] {
  if (before.kind === 'foreign' || sameState(before, now)) return [];
  const clear = now.kind === 'absent' ? [] : [deleteManagedAccept(ruleNumber)];
  if (before.kind === 'absent') return clear;
  return before.address ? [...clear, ...renderManagedAccept({ ruleNumber, address: before.address })] : clear;
}
