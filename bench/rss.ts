// Resident memory of another process, from /proc (Linux).
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes. */
export function residentBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
