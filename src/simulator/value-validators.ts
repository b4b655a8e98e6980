// Set-time value validators of the simulated router (vyos-api.md §5). Each returns null when the value
// is accepted, or the error lines the router prints before "Value validation failed".
// The wording follows the fact sheet where it quotes VyOS; elsewhere it is VyOS's generic "Invalid value".

import { PROTOCOL_NAMES, SERVICE_PORTS } from '../vyos/traffic-match';

export type ValueCheck = (value: string) => string[] | null;

const INVALID = ['Invalid value'];

/** vyatta-cfg refuses these characters in every value, whatever the node (cli_new.c validate_value). */
export function forbiddenCharacter(value: string): string | null {
  for (const ch of value) {
    if (ch === "'") return "Cannot use the single quote (') character in a value string";
    if (ch === '\n') return 'Cannot use the newline character in a value string';
    if (ch === '"') return 'Cannot use the double quote (") character in a value string';
  }
  return null;
}

export function numericRange(min: number, max: number, message: string): ValueCheck {
  return (v) => (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? null : [message]);
}

export const natRuleNumber = numericRange(1, 999999, 'NAT rule number must be between 1 and 999999');

export const commitRevisions = numericRange(1, 65535, 'Number of revisions must be between 0 and 65535');

export function oneOf(...allowed: string[]): ValueCheck {
  return (v) => (allowed.includes(v) ? null : INVALID);
}

/** oneOf with the node's own message (1.3's node.def `syntax:expression` lines carry one). */
export function oneOfWith(message: string, ...allowed: string[]): ValueCheck {
  return (v) => (allowed.includes(v) ? null : [message]);
}

/** The 1.4+ `.{0,255}` description constraint; 1.3 takes any text. */
export const description255: ValueCheck = (v) =>
  [...v].length <= 255 ? null : ['Description too long (limit 255 characters)'];

export const ipProtocol: ValueCheck = (v) => {
  const bare = v.startsWith('!') ? v.slice(1) : v;
  if (PROTOCOL_NAMES.has(bare)) return null;
  if (/^\d+$/.test(bare) && Number(bare) <= 255) return null;
  return [`Error: ${v} is not a valid IP protocol`, 'Invalid value'];
};

export function parseIpv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return null;
  return ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
}

export function isIpv4Address(text: string): boolean {
  return parseIpv4(text) !== null;
}

/** `ipaddrcheck --is-ipv4-net`: a network address, host bits zero. */
export function isIpv4Network(text: string): boolean {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined || len === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32) return false;
  const ip = parseIpv4(addr);
  if (ip === null) return false;
  const hostBits = 32 - Number(len);
  return hostBits === 32 ? ip === 0 : ip % 2 ** hostBits === 0;
}

/** An interface address: any host address with a prefix length. */
export function isIpv4HostPrefix(text: string): boolean {
  const [addr, len, extra] = text.split('/');
  return extra === undefined && len !== undefined && /^\d{1,2}$/.test(len) && Number(len) <= 32 && isIpv4Address(addr);
}

export function isIpv4Range(text: string): boolean {
  const parts = text.split('-');
  if (parts.length !== 2) return false;
  const [a, b] = parts.map(parseIpv4);
  return a !== null && b !== null && a <= b;
}

function ipv4AddressPrefixOrRange(allowNegation: boolean): ValueCheck {
  return (v) => {
    const bare = allowNegation && v.startsWith('!') ? v.slice(1) : v;
    return isIpv4Address(bare) || isIpv4Network(bare) || isIpv4Range(bare) ? null : INVALID;
  };
}

/** `source|destination address`: address, prefix or range, each optionally negated with `!`. */
export const natMatchAddress = ipv4AddressPrefixOrRange(true);
/** `translation address`: address, prefix or range; negation is not allowed. */
export const natTranslationAddress = ipv4AddressPrefixOrRange(false);
/** A source rule's `translation address`: the same, or `masquerade` (nat.xml.in, sagitta: source rule translation address, regex (masquerade)). */
export const natSourceTranslationAddress: ValueCheck = (v) => (v === 'masquerade' ? null : natTranslationAddress(v));

export const interfaceAddress: ValueCheck = (v) => (v === 'dhcp' || isIpv4HostPrefix(v) ? null : INVALID);

// vyos-1x src/validators/port-multi and port-range (mirror 3710c58, 2024-10-21): a range is
// `^[0-9]{1,5}-[0-9]{1,5}$`, a port anything str.isnumeric(), everything else a service name.
const RANGE = /^[0-9]{1,5}-[0-9]{1,5}$/;
const inPortRange = (text: string) => Number(text) >= 1 && Number(text) <= 65535;
const isRange = (text: string) => {
  const [a, b] = text.split('-');
  return inPortRange(a) && inPortRange(b) && Number(a) <= Number(b);
};

/** One element of a port list: a port, `a-b` with a <= b, or a service name (messages as port-multi prints them). */
function portElementError(element: string): string | null {
  if (RANGE.test(element)) return isRange(element) ? null : `Error: ${element} is not a valid port range`;
  if (/^\d+$/.test(element)) return inPortRange(element) ? null : `Error: ${element} is not a valid port`;
  return SERVICE_PORTS.has(element) ? null : `Error: ${element} is not a valid service name`;
}

/** The 1.4+ `port-multi` validator for `source|destination port`. */
export const portMulti: ValueCheck = (v) => {
  for (const raw of v.split(',')) {
    const element = raw.startsWith('!') ? raw.slice(1) : raw;
    const error = portElementError(element);
    if (error) return [error];
  }
  return null;
};

/** The 1.4+ `port-range` validator for `translation port`: one port, a range or a service name (no list). */
export const portRange: ValueCheck = (v) => {
  if (RANGE.test(v)) return isRange(v) ? null : [`Error: ${v} is not a valid port or port range`];
  if (/^\d+$/.test(v)) return inPortRange(v) ? null : [`Error: ${v} is not a valid port or port range`];
  return SERVICE_PORTS.has(v) ? null : [`Error: ${v} is not a valid service name`];
};

/** 1.4+ interface-name constraint of `inbound-interface name`; `!` negates and `*` is a wildcard. */
export const interfaceName: ValueCheck = (v) =>
  /^!?((bond|br|dum|en|eth|gnv|ifb|ipoe|l2tp|l2tpeth|macsec|peth|pppoe|ppp|pptp|sstpc|tun|veth|vti|vtun|vxlan|wg|wlan|wwan)[0-9a-z._*-]*|lo)$/.test(v)
    ? null
    : INVALID;

export const ethernetName: ValueCheck = (v) => (/^eth\d+$/.test(v) ? null : ['Invalid Ethernet interface name']);

export const hostName: ValueCheck = (v) =>
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(v) ? null : ['Invalid host-name'];

/** `firewall ipv4 ... rule <N>` (include/firewall/ipv4-hook-forward.xml.i, ipv4-custom-name.xml.i, 1.4 and rolling). */
export const firewallRuleNumber = numericRange(1, 999999, 'Firewall rule number must be between 1 and 999999');

/** `firewall ipv4 name <X>`: regex `[a-zA-Z0-9][\w\-\.]*` and no message of its own (include/firewall/ipv4-custom-name.xml.i). */
export const firewallChainName: ValueCheck = (v) => (/^[a-zA-Z0-9][\w.-]*$/.test(v) ? null : INVALID);

/** Firewall `source|destination address`: an address, prefix or range, optionally negated (`ipv4-address-exclude` etc.). */
export const firewallAddress = ipv4AddressPrefixOrRange(true);

/** 1.3 `firewall name <X> rule <N>` (vyatta-cfg-firewall templates/firewall/name/node.tag/rule/node.def). */
export const firewallRuleNumber13 = numericRange(1, 999999, 'firewall rule number must be between 1 and 999999');

/** 1.3 `firewall name <X>`: at most 28 characters (templates/firewall/name/node.def). */
export const firewallChainName13: ValueCheck = (v) => (v.length <= 28 ? null : ['Firewall name must be 28 characters or less']);
