// `first-last` ranges and IPv4 arithmetic (pure): the environment's ranges (config.ts) and a
// registered router's (router-config.ts) are read by the same rules.
import type { Ipv4Range, NumberRange } from '../config.js';

export function ipv4ToInt(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || String(p) !== m[i + 1])) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `first-last` rule numbers or ports; null when it is not that. */
export function parseNumberRange(text: string, min: number, max: number): NumberRange | null {
  const m = /^(\d+)\s*-\s*(\d+)$/.exec(text.trim());
  if (!m) return null;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first >= min && last <= max && first <= last ? { first, last } : null;
}

/** Parses `first-last` IPv4 addresses; null when it is not that. */
export function parseIpv4Range(text: string): Ipv4Range | null {
  const m = /^([\d.]+)\s*-\s*([\d.]+)$/.exec(text.trim());
  const a = m ? ipv4ToInt(m[1]) : null;
  const b = m ? ipv4ToInt(m[2]) : null;
  return m && a !== null && b !== null && a <= b ? { first: m[1], last: m[2] } : null;
}

