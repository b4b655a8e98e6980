// The last line before /configure: every command must have a shape we render, and every path
// element must be on an allow-list (pure). Input validation (domain/validation.ts) refuses bad
// values with the field's name first; this guard catches what a future bug lets through, so a
// quote, a newline or a stray word never becomes part of a router command.
import { badInput } from '../domain/errors.js';
import { MASQUERADE_DESCRIPTION } from '../domain/hairpin.js';
import { FORWARD_RULE_PATH, MANAGED_DESCRIPTION } from './managed-accept.js';
import type { RouterCommand } from './types.js';

const RULE_PREFIX = ['nat', 'destination', 'rule'] as const;
const PROTOCOLS = new Set(['tcp', 'udp', 'tcp_udp']);
const INTERFACE = /^[a-z][a-z0-9.]{0,14}$/i;
const CANONICAL_DECIMAL = /^(0|[1-9][0-9]*)$/;
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;
// Printable: letters, digits, punctuation, symbols and spaces; no quotes (VyOS refuses them) and
// nothing else (no control characters, line or paragraph separators, format characters).
const DESCRIPTION = /^[\p{L}\p{N}\p{P}\p{S}\p{Zs}]{1,255}$/u;
const DESCRIPTION_FORBIDDEN = /['"]/;

/** Why a command is refused, or null when it is safe. */
export function unsafeReason(command: RouterCommand): string | null {
  if (command.op !== 'set' && command.op !== 'delete') return `operation "${String(command.op)}" is not one we send`;
  const path = command.path;
  if (!Array.isArray(path) || path.some((e) => typeof e !== 'string')) return 'path elements must be strings';
  if (path[0] === 'firewall') return unsafeFirewallReason(command);
  if (path[0] === 'nat' && path[1] === 'source') return unsafeMasqueradeReason(command);
  if (RULE_PREFIX.some((node, i) => path[i] !== node)) return 'only nat destination rules are managed';
  if (path.length < 4) return 'a rule path needs a rule number';
  if (!isDecimal(path[3], 1, 999_999)) return 'rule number is not a canonical decimal between 1 and 999999';
  const [node, ...rest] = path.slice(4);
  if (node === undefined) return command.op === 'delete' ? null : 'set needs a node under the rule';
  const leaf = (expected: string[], check: (v: string) => boolean, what: string): string | null => {
    const names = rest.slice(0, expected.length);
    if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) return `unknown node under ${node}`;
    const value = rest.slice(expected.length);
    if (command.op === 'delete' && value.length === 0) return null;
    if (value.length !== 1) return `${node} takes exactly one value`;
    return check(value[0]) ? null : `${[node, ...expected].join(' ')} is not ${what}`;
  };
  switch (node) {
    case 'description':
      return leaf([], (v) => DESCRIPTION.test(v) && !DESCRIPTION_FORBIDDEN.test(v) && v.trim() === v, 'printable text without quotes');
    case 'protocol':
      return leaf([], (v) => PROTOCOLS.has(v), 'tcp, udp or tcp_udp');
    case 'destination':
      // `destination address`: a hairpin twin's public address (domain/hairpin.ts)
      if (rest[0] === 'address') return leaf(['address'], (v) => IPV4.test(v), 'an IPv4 address');
      return leaf(['port'], isPortRun, 'a port or port range as canonical decimals');
    case 'inbound-interface':
      // 1.3: `inbound-interface eth0`; 1.4+: `inbound-interface name eth0`
      if (rest[0] === 'name') return leaf(['name'], (v) => INTERFACE.test(v), 'an interface name');
      return leaf([], (v) => INTERFACE.test(v) && v !== 'name', 'an interface name');
    case 'translation':
      if (rest[0] === 'address') return leaf(['address'], (v) => IPV4.test(v), 'an IPv4 address');
      return leaf(['port'], isPortRun, 'a port or port range as canonical decimals');
    case 'source':
      return leaf(['address'], isAddressOrCidr, 'an IPv4 address or CIDR');
    case 'disable':
      return rest.length === 0 ? null : 'disable takes no value';
    default:
      return `node "${clip(node)}" is not one we manage`;
  }
}

/** VYOS_FIREWALL=manage's rule (managed-accept.ts), in exactly the shapes it is rendered. */
function unsafeFirewallReason(command: RouterCommand): string | null {
  const path = command.path;
  if (FORWARD_RULE_PATH.some((node, i) => path[i] !== node)) return 'only firewall ipv4 forward filter rules are managed';
  if (path.length < 6 || !isDecimal(path[5], 1, 999_999)) return 'firewall rule number is not a canonical decimal between 1 and 999999';
  const rest = path.slice(6);
  if (rest.length === 0) return command.op === 'delete' ? null : 'set needs a node under the rule';
  if (command.op !== 'set') return 'only whole firewall rules are deleted';
  const shape = rest.slice(0, -1).join(' ');
  const value = rest[rest.length - 1];
  if (shape === 'action') return value === 'accept' ? null : 'the managed firewall rule only accepts';
  if (shape === 'connection-status nat') return value === 'destination' ? null : 'connection-status nat is not destination';
  if (shape === 'description') return value === MANAGED_DESCRIPTION ? null : 'not the managed rule\'s description';
  if (shape === 'destination address') return isAddressOrRange(value) ? null : 'destination address is not an IPv4 address or range';
  return `node "${clip(rest.join(' '))}" is not one we manage`;
}

/** VYOS_HAIRPIN's masquerade rule (domain/hairpin.ts), in exactly the shapes it is rendered. */
function unsafeMasqueradeReason(command: RouterCommand): string | null {
  const path = command.path;
  if (path[2] !== 'rule' || path.length < 4 || !isDecimal(path[3], 1, 999_999)) return 'nat source rule number is not a canonical decimal between 1 and 999999';
  const rest = path.slice(4);
  if (rest.length === 0) return command.op === 'delete' ? null : 'set needs a node under the rule';
  if (command.op !== 'set') return 'only whole source rules are deleted';
  const shape = rest.slice(0, -1).join(' ');
  const value = rest[rest.length - 1];
  switch (shape) {
    case 'outbound-interface':
    case 'outbound-interface name':
      return INTERFACE.test(value) && value !== 'name' ? null : 'outbound-interface is not an interface name';
    case 'source address':
      return isAddressOrCidr(value) ? null : 'source address is not an IPv4 address or CIDR';
    case 'destination address':
      return isAddressOrRange(value) ? null : 'destination address is not an IPv4 address or range';
    case 'translation address':
      return value === 'masquerade' ? null : 'the masquerade rule only masquerades';
    case 'description':
      return value === MASQUERADE_DESCRIPTION ? null : "not the masquerade rule's description";
    default:
      return `node "${clip(rest.join(' '))}" is not one we manage`;
  }
}

/** Throws BAD_USER_INPUT naming the first unsafe command; the router is never called with it. */
export function assertSafeCommands(commands: readonly RouterCommand[]): void {
  for (const command of commands) {
    const reason = unsafeReason(command);
    if (reason) throw badInput('routerCommand', `refused before reaching the router: ${reason}`);
  }
}

function isDecimal(v: string, min: number, max: number): boolean {
  if (!CANONICAL_DECIMAL.test(v) || v.length > 7) return false;
  const n = Number(v);
  return n >= min && n <= max;
}

function isPort(v: string): boolean {
  return isDecimal(v, 1, 65_535);
}

/** One port, or a range `a-b` with a < b (a port range rule; an imported rule's translation range, restored by an undo). */
function isPortRun(v: string): boolean {
  const [a, b, extra] = v.split('-');
  if (b === undefined) return isPort(a);
  return extra === undefined && isPort(a) && isPort(b) && Number(a) < Number(b);
}

function isAddressOrCidr(v: string): boolean {
  const [addr, len, extra] = v.split('/');
  if (extra !== undefined || !IPV4.test(addr)) return false;
  return len === undefined || isDecimal(len, 0, 32);
}

/** `a.b.c.d` or `a.b.c.d-e.f.g.h` (LAN_POOL as the owned rules render it). */
function isAddressOrRange(v: string): boolean {
  const [first, last, extra] = v.split('-');
  return IPV4.test(first) && (last === undefined || IPV4.test(last)) && extra === undefined;
}

function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 30 ? `${printable.slice(0, 30)}…` : printable;
}
