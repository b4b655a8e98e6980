// Pure input checks. Everything that becomes a router path element passes through here first,
// so a bad value is refused with the field's name before the database or router is touched.
import { ipv4ToInt } from '../config.js';
import { badInput } from './errors.js';

const VM_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function vmName(field: string, value: string): string {
  const v = value.trim().toLowerCase();
  if (!VM_NAME.test(v)) {
    throw badInput(field, 'must be 1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen');
  }
  return v;
}

const RULE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;

/** A port rule's name within its VM (applyVm's matching key); kept as given, case included. */
export function ruleName(field: string, value: string): string {
  const v = value.trim();
  if (!RULE_NAME.test(v)) throw badInput(field, 'must be 1-63 letters, digits, dots, hyphens or underscores, starting with a letter or digit');
  return v;
}

export function ipv4(field: string, value: string): string {
  if (ipv4ToInt(value) === null) throw badInput(field, `"${clip(value)}" is not an IPv4 address`);
  return value;
}

export function macAddress(field: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const v = value.trim().toLowerCase().replace(/-/g, ':');
  if (!MAC.test(v)) throw badInput(field, `"${clip(value)}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return v;
}

export function port(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw badInput(field, `must be a port between 1 and 65535, got ${value}`);
  return value;
}

/** How many ports a rule forwards from `first`: at least 1, and the range must end by port 65535. */
export function portCount(field: string, value: number, first: number | null): number {
  if (!Number.isInteger(value) || value < 1) throw badInput(field, `must be a whole number of ports, at least 1, got ${value}`);
  const room = 65_536 - (first ?? 1);
  if (value > room) throw badInput(field, first === null ? `must be at most 65535, got ${value}` : `a range of ${value} ports from ${first} would end past port 65535 (at most ${room})`);
  return value;
}

/** An IPv4 address or CIDR prefix (host bits must be zero, as VyOS 1.4+ normalises them away). */
export function sourceAddress(field: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const v = value.trim();
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(v);
  const addr = m ? ipv4ToInt(m[1]) : null;
  if (!m || addr === null) throw badInput(field, `"${clip(v)}" is not an IPv4 address or CIDR`);
  if (m[2] !== undefined) {
    const len = Number(m[2]);
    if (len > 32 || String(len) !== m[2]) throw badInput(field, `"${clip(v)}" has an invalid prefix length`);
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
    if (((addr & mask) >>> 0) !== addr) throw badInput(field, `"${clip(v)}" has host bits set; did you mean ${network(addr, mask)}/${len}?`);
  }
  return v;
}

/** Printable text without quotes (VyOS refuses ' and " in values) or control characters. */
export function description(field: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > 200) throw badInput(field, `must be at most 200 characters, got ${value.length}`);
  if (/['"]/.test(value)) throw badInput(field, 'must not contain quote characters (the router refuses them)');
  // VyOS accepts a backslash at set time, but its config parser reads escapes back out of it: the
  // value does not round-trip, and some make every read of the config fail (vyos-api.md §5).
  if (value.includes('\\')) throw badInput(field, 'must not contain a backslash (the router does not store it faithfully)');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) throw badInput(field, 'must not contain newlines or control characters');
  if (/[^\p{L}\p{N}\p{P}\p{S}\p{Zs}]/u.test(value)) throw badInput(field, 'must contain printable characters only');
  const v = value.trim();
  return v === '' ? null : v;
}

function network(addr: number, mask: number): string {
  const n = (addr & mask) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
