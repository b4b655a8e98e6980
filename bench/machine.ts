// What the figures were measured on, printed at the top of every benchmark. The load average
// tells whether something else was running on the machine at the same time.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import pg from 'pg';

export async function describeMachine(databaseUrl: string): Promise<string> {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const pgVersion = ((await client.query('show server_version')).rows[0] as { server_version: string }).server_version;
  await client.end();
  return `${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, PostgreSQL ${pgVersion}; load average ${loadavg()[0].toFixed(2)} at start`;
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (fields 14
 * and 15, in clock ticks of 100 Hz: USER_HZ on Linux).
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (field 2) may hold spaces; the fields after it start past its ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time all PostgreSQL processes on this machine have used so far, in ms (0 when PostgreSQL
 * runs elsewhere): what a read costs the database, beside what it costs the server.
 */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      total += processCpuMs(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}
