// Pure allocation: the lowest free value of a pool. Callers hold the per-router advisory lock,
// so "free" is stable for the life of the transaction.
import { intToIpv4, ipv4ToInt, type Ipv4Range, type NumberRange } from '../config.js';
import { poolExhausted } from './errors.js';

/** Lowest number in `range` not in `used`, or POOL_EXHAUSTED. */
export function allocateNumber(range: NumberRange, used: ReadonlySet<number>, pool: string): number {
  for (let n = range.first; n <= range.last; n++) if (!used.has(n)) return n;
  throw poolExhausted(pool);
}

/** Lowest IPv4 in `range` not in `used`, or POOL_EXHAUSTED. */
export function allocateIpv4(range: Ipv4Range, used: ReadonlySet<string>): string {
  const first = ipv4ToInt(range.first)!;
  const last = ipv4ToInt(range.last)!;
  for (let n = first; n <= last; n++) {
    const ip = intToIpv4(n);
    if (!used.has(ip)) return ip;
  }
  throw poolExhausted('LAN_POOL');
}

/** Lowest external port in `range` free for the transports `need` claims. */
export function allocatePort(
  range: NumberRange,
  usedTcp: ReadonlySet<number>,
  usedUdp: ReadonlySet<number>,
  need: { tcp: boolean; udp: boolean },
): number {
  for (let p = range.first; p <= range.last; p++) {
    if ((need.tcp && usedTcp.has(p)) || (need.udp && usedUdp.has(p))) continue;
    return p;
  }
  throw poolExhausted('EXTERNAL_PORT_RANGE');
}
