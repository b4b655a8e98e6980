// Which inbound traffic a `nat destination rule` catches, read from the strings VyOS holds
// (vyos-api.md §3, §5). One reading for allocation, drift and import, so they cannot disagree.
import { ipv4ToInt } from '../config.js';
import type { RouterRule } from './types';

/** The port-carrying transports a rule matches. */
export interface Transports {
  tcp: boolean;
  udp: boolean;
}

/** An inclusive range of ports, first <= last, within 1-65535. */
export type PortRange = readonly [first: number, last: number];

/** The ip-protocol validator's built-in names (a subset of /etc/protocols plus VyOS's own). */
export const PROTOCOL_NAMES: ReadonlySet<string> = new Set([
  'all', 'tcp', 'udp', 'tcp_udp', 'icmp', 'igmp', 'ggp', 'ipencap', 'st', 'egp', 'igp', 'pup', 'hmp',
  'xns-idp', 'rdp', 'iso-tp4', 'dccp', 'xtp', 'ddp', 'idpr-cmtp', 'ipv6', 'ipv6-route', 'ipv6-frag',
  'idrp', 'rsvp', 'gre', 'esp', 'ah', 'skip', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'rspf', 'vmtp',
  'eigrp', 'ospf', 'ax.25', 'ipip', 'etherip', 'encap', 'pim', 'ipcomp', 'vrrp', 'l2tp', 'isis',
  'sctp', 'fc', 'mobility-header', 'udplite', 'mpls-in-ip', 'manet', 'hip', 'shim6', 'wesp', 'rohc',
]);

/** The only protocols a rule with ports may have (nat.py refuses ports with any other at commit). */
export const PORT_PROTOCOLS: readonly string[] = ['tcp', 'udp', 'tcp_udp'];

/** A few /etc/services names (Debian netbase numbers), enough for realistic configs. */
export const SERVICE_PORTS: ReadonlyMap<string, number> = new Map([
  ['ftp-data', 20], ['ftp', 21], ['ssh', 22], ['telnet', 23], ['smtp', 25], ['domain', 53], ['tftp', 69],
  ['http', 80], ['www', 80], ['kerberos', 88], ['pop3', 110], ['ntp', 123], ['imap', 143], ['snmp', 161],
  ['bgp', 179], ['ldap', 389], ['https', 443], ['microsoft-ds', 445], ['isakmp', 500], ['syslog', 514],
  ['submission', 587], ['ldaps', 636], ['imaps', 993], ['pop3s', 995], ['openvpn', 1194], ['mysql', 3306],
  ['ms-wbt-server', 3389], ['ipsec-nat-t', 4500], ['sip', 5060], ['postgresql', 5432],
]);

const MAX_PORT = 65_535;
const BOTH: Transports = { tcp: true, udp: true };
const NEITHER: Transports = { tcp: false, udp: false };

// ---- protocol ----

/**
 * The transports a `protocol` value catches. Absent is VyOS's default `all`; `!x` catches every
 * protocol x does not (so `!tcp` catches udp, `!all` nothing); 6 and 17 are tcp and udp; other
 * validator names and numbers catch neither.
 */
export function protocolTransports(protocol: string | undefined): Transports {
  if (protocol === undefined) return BOTH;
  const negated = protocol.startsWith('!');
  const named = namedTransports(negated ? protocol.slice(1) : protocol);
  // Text the validator would not accept (also under `!`): assume both, so allocation keeps clear.
  if (named === null) return BOTH;
  return negated ? { tcp: !named.tcp, udp: !named.udp } : named;
}

/** One protocol name or number, without `!`; null when it is not one the validator accepts. */
function namedTransports(p: string): Transports | null {
  if (/^\d{1,3}$/.test(p)) return Number(p) <= 255 ? byNumber(Number(p)) : null;
  if (p === 'all' || p === 'tcp_udp') return BOTH;
  if (p === 'tcp') return byNumber(6);
  if (p === 'udp') return byNumber(17);
  return PROTOCOL_NAMES.has(p) ? NEITHER : null;
}

/** An IP protocol number: 6 is TCP, 17 is UDP, none other carries ports. */
function byNumber(n: number): Transports {
  return { tcp: n === 6, udp: n === 17 };
}

// ---- destination port ----

/**
 * The ports a `destination port` value catches, as sorted, merged ranges. Absent catches every
 * port; a comma list of ports, `a-b` ranges and service names catches those; a leading `!`
 * negates the whole list (`!22,80`: neither 22 nor 80, as nat.py renders it).
 */
export function caughtPorts(spec: string | undefined): PortRange[] {
  if (spec === undefined) return [[1, MAX_PORT]];
  const negated = spec.startsWith('!');
  const listed = merge((negated ? spec.slice(1) : spec).split(',').flatMap(elementPorts));
  return negated ? complement(listed) : listed;
}

/** Whether one of `ranges` holds `port`. */
export function inRanges(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some(([first, last]) => port >= first && port <= last);
}

/** The port of a value that names exactly one port as a number (`8080`), else null. */
export function singlePort(spec: string | undefined): number | null {
  return spec !== undefined && /^\d{1,5}$/.test(spec) ? portNumber(spec) : null;
}

/**
 * The ports of a value that names one run of ports as a rule of ours renders it: `8080` or
 * `30000-30099` (first <= last). Null for lists, names, negation and anything else.
 */
export function portRun(spec: string | undefined): PortRange | null {
  const one = singlePort(spec);
  if (one !== null) return [one, one];
  const m = spec === undefined ? null : /^(\d{1,5})-(\d{1,5})$/.exec(spec);
  if (!m) return null;
  const [first, last] = [portNumber(m[1]), portNumber(m[2])];
  return first !== null && last !== null && first <= last ? [first, last] : null;
}

function elementPorts(raw: string): PortRange[] {
  // nat.py negates only from the front, so a `!` further in is read as a listed element.
  const el = raw.trim().replace(/^!/, '');
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(el);
  if (range) {
    const [first, last] = [portNumber(range[1]), portNumber(range[2])];
    return first !== null && last !== null && first <= last ? [[first, last]] : [];
  }
  const port = /^\d{1,5}$/.test(el) ? portNumber(el) : (SERVICE_PORTS.get(el) ?? null);
  // A service name we do not know lists nothing: under `!` that errs towards catching more.
  return port === null ? [] : [[port, port]];
}

function portNumber(text: string): number | null {
  const n = Number(text);
  return n >= 1 && n <= MAX_PORT ? n : null;
}

function merge(ranges: PortRange[]): PortRange[] {
  const out: [number, number][] = [];
  for (const [first, last] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const prev = out[out.length - 1];
    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}

function complement(sorted: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  let next = 1;
  for (const [first, last] of sorted) {
    if (first > next) out.push([next, first - 1]);
    next = last + 1;
  }
  if (next <= MAX_PORT) out.push([next, MAX_PORT]);
  return out;
}

// ---- inbound interface ----

/**
 * Whether traffic arriving on `iface` reaches a rule with this `inbound-interface`: absent (1.4+)
 * and `any` (1.3) mean every interface, `!x` every other one, `*` is a wildcard.
 */
export function interfaceCatches(spec: string | undefined, iface: string): boolean {
  if (spec === undefined || spec === 'any') return true;
  if (spec.startsWith('!')) return !interfaceCatches(spec.slice(1), iface);
  const glob = new RegExp(`^${spec.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return glob.test(iface);
}

// ---- address ----

/**
 * Whether an address value (`ipv4-address|prefix|range[-exclude]` validators, vyos-api.md §5)
 * holds `ip`: `a.b.c.d`, `a.b.c.d/n`, `a-b`, each optionally negated with `!`. Null for text
 * none of them accepts (a group or name the caller must treat as unknown).
 */
export function addressCatches(spec: string, ip: string): boolean | null {
  const negated = spec.startsWith('!');
  const held = addressHolds(negated ? spec.slice(1) : spec, ip);
  return held === null ? null : held !== negated;
}

function addressHolds(spec: string, ip: string): boolean | null {
  const at = ipv4ToInt(ip);
  if (at === null) return null;
  const range = /^([\d.]+)-([\d.]+)$/.exec(spec);
  if (range) {
    const [a, b] = [ipv4ToInt(range[1]), ipv4ToInt(range[2])];
    return a === null || b === null ? null : at >= a && at <= b;
  }
  const prefix = /^([\d.]+)\/(\d{1,2})$/.exec(spec);
  if (prefix) {
    const base = ipv4ToInt(prefix[1]);
    const bits = Number(prefix[2]);
    if (base === null || bits > 32) return null;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return ((at & mask) >>> 0) === ((base & mask) >>> 0);
  }
  const one = ipv4ToInt(spec);
  return one === null ? null : one === at;
}

// ---- the whole rule ----

/** What a rule catches on `iface`: its transports and ports (nothing when it listens elsewhere). */
export interface Catchment extends Transports {
  ports: PortRange[];
}

export function ruleCatchment(rule: RouterRule, iface: string): Catchment {
  if (!interfaceCatches(rule.inboundInterface, iface)) return { ...NEITHER, ports: [] };
  return { ...protocolTransports(rule.protocol), ports: caughtPorts(rule.externalPort) };
}

/** Whether the catchment holds `port` for any of the transports `want`. */
export function catches(c: Catchment, want: Transports, port: number): boolean {
  return catchesAnyOf(c, want, [port, port]);
}

/** Whether the catchment holds any port of `run` for any of the transports `want`. */
export function catchesAnyOf(c: Catchment, want: Transports, [first, last]: PortRange): boolean {
  return ((want.tcp && c.tcp) || (want.udp && c.udp)) && c.ports.some(([a, b]) => a <= last && first <= b);
}
