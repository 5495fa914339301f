// CPU and memory of a process, from /proc (Linux), the way `ps` computes them.
import { readFileSync } from 'node:fs';

/** What `status` shows for a service's process. */
export interface ProcessUsage {
  /** Average CPU over the process's lifetime, in percent of one core (as `ps -o %cpu`). */
  readonly cpuPercent: number;
  /** Resident memory in bytes (VmRSS). */
  readonly memoryBytes: number;
  /** Seconds since the process started. */
  readonly uptimeSeconds: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat), to tell a reused pid apart. */
  readonly startTime: string;
  /** CPU time used so far (user + system), in seconds: two readings give the recent CPU %. */
  readonly cpuSeconds: number;
}

// USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture
// Node supports (the kernel exports it as such regardless of CONFIG_HZ).
const CLOCK_TICKS_PER_SECOND = 100;

/** Usage of `pid`, or null when it is gone (or a zombie) or /proc is not there. */
export function readProcessUsage(pid: number): ProcessUsage | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  let status: string;
  let uptime: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    uptime = readFileSync('/proc/uptime', 'utf8');
  } catch {
    return null;
  }
  // Field 2 is "(comm)" and may contain spaces and ')': the fields resume after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  if (state === 'Z' || state === 'X') return null;
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTicks = Number(rest[19]);
  const systemUptime = Number(uptime.split(' ')[0]);
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  const uptimeSeconds = Math.max(0, systemUptime - startTicks / CLOCK_TICKS_PER_SECOND);
  const cpuSeconds = (utime + stime) / CLOCK_TICKS_PER_SECOND;
  return {
    cpuPercent: uptimeSeconds > 0 ? Math.round((cpuSeconds / uptimeSeconds) * 1000) / 10 : 0,
    memoryBytes: rss ? Number(rss[1]) * 1024 : 0,
    uptimeSeconds,
    startTime: String(rest[19]),
    cpuSeconds,
  };
}
