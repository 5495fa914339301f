import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type MetricFamily, renderFamilies } from './exposition.js';

/** The process metrics of the running manager; see {@link createProcessMetrics}. */
export interface ProcessMetrics {
  /** The process families as Prometheus text 0.0.4; resets the event-loop delay window. */
  render(): string;
  /** Stops the event-loop delay monitor. `render()` still works, with lag 0 from then on. */
  stop(): void;
}

/** Options of {@link createProcessMetrics} (for tests; the defaults are the real process). */
export interface ProcessMetricsOptions {
  /** Sampling resolution of the event-loop delay monitor in ms. Default 1000. */
  readonly resolutionMs?: number;
  /** Where the open file descriptors are listed. Default `/proc/self/fd` (absent off Linux: the family is left out). */
  readonly fdDir?: string;
}

const NS_PER_SECOND = 1e9;

/** Open file descriptors, or `undefined` where /proc is not there. */
function openFds(fdDir: string): number | undefined {
  try {
    // readdir opens the directory itself, which is in the listing: not one of ours.
    return Math.max(0, readdirSync(fdDir).length - 1);
  } catch {
    return undefined;
  }
}

/** The soft limit of open files from /proc/self/limits, or `undefined`. */
function maxFds(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Process metrics with the names Prometheus clients use, so dashboards built
 * for prom-client or client_golang work as they are:
 * `process_resident_memory_bytes`, `process_cpu_user_seconds_total`,
 * `process_cpu_system_seconds_total`, `process_cpu_seconds_total`,
 * `process_open_fds`, `process_max_fds` (Linux), `process_start_time_seconds`,
 * `nodejs_heap_size_used_bytes`, `nodejs_heap_size_total_bytes`, and the event-loop delay measured by
 * `perf_hooks.monitorEventLoopDelay`: `nodejs_eventloop_lag_seconds` (mean),
 * `nodejs_eventloop_lag_p99_seconds` and `nodejs_eventloop_lag_max_seconds`
 * over the window since the previous scrape (each render starts a new window,
 * as prom-client does). Everything is read when `render()` is called.
 */
export function createProcessMetrics(options: ProcessMetricsOptions = {}): ProcessMetrics {
  const resolution = options.resolutionMs ?? 1_000;
  const fdDir = options.fdDir ?? '/proc/self/fd';
  // Start time as the process saw it, fixed once: uptime and the clock tick
  // separately, and a value that wobbles between scrapes looks like a restart.
  const startTimeSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const delay = monitorEventLoopDelay({ resolution });
  delay.enable();
  let stopped = false;

  const lag = (read: () => number): number =>
    // No sample yet (or stopped): 0 rather than the histogram's NaN / huge min.
    stopped || delay.count === 0 ? 0 : read() / NS_PER_SECOND;

  return {
    render(): string {
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      const fds = openFds(fdDir);
      const limit = maxFds();
      const families: MetricFamily[] = [
        {
          name: 'process_cpu_user_seconds_total',
          type: 'counter',
          help: 'User CPU time spent in seconds.',
          samples: [{ value: cpu.user / 1e6 }],
        },
        {
          name: 'process_cpu_system_seconds_total',
          type: 'counter',
          help: 'System CPU time spent in seconds.',
          samples: [{ value: cpu.system / 1e6 }],
        },
        {
          name: 'process_cpu_seconds_total',
          type: 'counter',
          help: 'Total user and system CPU time spent in seconds.',
          samples: [{ value: (cpu.user + cpu.system) / 1e6 }],
        },
        {
          name: 'process_resident_memory_bytes',
          type: 'gauge',
          help: 'Resident memory size in bytes.',
          samples: [{ value: memory.rss }],
        },
        {
          name: 'process_start_time_seconds',
          type: 'gauge',
          help: 'Start time of the process since unix epoch in seconds.',
          samples: [{ value: startTimeSeconds }],
        },
        {
          name: 'nodejs_heap_size_total_bytes',
          type: 'gauge',
          help: 'Process heap size from Node.js in bytes.',
          samples: [{ value: memory.heapTotal }],
        },
        {
          name: 'nodejs_heap_size_used_bytes',
          type: 'gauge',
          help: 'Process heap size used from Node.js in bytes.',
          samples: [{ value: memory.heapUsed }],
        },
        {
          name: 'nodejs_eventloop_lag_seconds',
          type: 'gauge',
          help: 'Mean event loop delay in seconds since the previous scrape.',
          samples: [{ value: lag(() => delay.mean) }],
        },
        {
          name: 'nodejs_eventloop_lag_p99_seconds',
          type: 'gauge',
          help: '99th percentile of the event loop delay in seconds since the previous scrape.',
          samples: [{ value: lag(() => delay.percentile(99)) }],
        },
        {
          name: 'nodejs_eventloop_lag_max_seconds',
          type: 'gauge',
          help: 'Largest event loop delay in seconds since the previous scrape.',
          samples: [{ value: lag(() => delay.max) }],
        },
      ];
      if (fds !== undefined) {
        families.push({
          name: 'process_open_fds',
          type: 'gauge',
          help: 'Number of open file descriptors.',
          samples: [{ value: fds }],
        });
      }
      if (limit !== undefined) {
        families.push({
          name: 'process_max_fds',
          type: 'gauge',
          help: 'Maximum number of open file descriptors.',
          samples: [{ value: limit }],
        });
      }
      if (!stopped) delay.reset();
      return renderFamilies(families);
    },
    stop(): void {
      if (stopped) return;
      stopped = true;
      delay.disable();
    },
  };
}
