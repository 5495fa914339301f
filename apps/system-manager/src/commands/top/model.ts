// What `top` shows, computed from one `overview` answer after another: CPU %
// over the last interval (from each process's CPU time), memory, uptime, the
// cache hit rate and a per-interval request history for the sparkline. Pure:
// the readings of /proc come in as a function, time as a number.
import type { Overview } from '../../control-socket/overview.js';
import type { ProcessUsage } from '../proc-stats.js';

/** How many intervals of request counts a service's sparkline remembers. */
export const HISTORY_LENGTH = 60;

/** One row of the view. */
export interface TopRow {
  readonly name: string;
  readonly state: string;
  readonly health: string;
  readonly pid: number | null;
  readonly port: number | null;
  readonly uptimeSeconds: number | null;
  readonly restarts: number;
  /** CPU over the last interval in percent of one core; null before the second reading of this process. */
  readonly cpuPercent: number | null;
  readonly memoryBytes: number | null;
  readonly stoppedBy: string | null;
  /** Cache hits / (hits + misses) since the service started reporting, 0–1; null without lookups. */
  readonly hitRate: number | null;
  /** Cache lookups (hits + misses) per interval, oldest first; empty for a service that reports none. */
  readonly requests: readonly number[];
}

/** What one reading of a service left for the next. */
interface Previous {
  readonly pid: number | null;
  readonly startTime: string | null;
  readonly cpuSeconds: number | null;
  readonly lookups: number | null;
  readonly requests: readonly number[];
}

/** The view's state between two readings. */
export interface TopModel {
  /** When the last reading was taken (ms, monotonic or wall: only differences are used). */
  readonly at: number;
  readonly rows: readonly TopRow[];
  readonly previous: ReadonlyMap<string, Previous>;
}

/** The model with `overview` taken at `now`; `usage` reads a process's CPU time and memory (null when gone). */
export function advance(
  model: TopModel | null,
  overview: Overview,
  usage: (pid: number) => ProcessUsage | null,
  now: number,
): TopModel {
  const previous = new Map<string, Previous>();
  const elapsedSeconds = model === null ? 0 : (now - model.at) / 1000;
  const rows = overview.services.map((service): TopRow => {
    const before = model?.previous.get(service.name);
    const reading = service.pid === null ? null : usage(service.pid);
    const sameProcess =
      before !== undefined &&
      reading !== null &&
      before.pid === service.pid &&
      before.startTime === reading.startTime &&
      before.cpuSeconds !== null;
    const cpuPercent =
      sameProcess && elapsedSeconds > 0
        ? Math.max(0, ((reading.cpuSeconds - (before.cpuSeconds as number)) / elapsedSeconds) * 100)
        : null;
    const counters = overview.caches[service.name];
    const lookups = counters === undefined ? null : counters.hits + counters.misses;
    let requests = before?.requests ?? [];
    if (lookups !== null && before?.lookups !== null && before?.lookups !== undefined) {
      // Counters restart from zero with a new process: a drop is a new count, not a negative one.
      const delta = lookups >= before.lookups ? lookups - before.lookups : lookups;
      requests = [...requests, delta].slice(-HISTORY_LENGTH);
    }
    previous.set(service.name, {
      pid: service.pid,
      startTime: reading?.startTime ?? null,
      cpuSeconds: reading?.cpuSeconds ?? null,
      lookups,
      requests,
    });
    return {
      name: service.name,
      state: service.state,
      health: service.health,
      pid: service.pid,
      port: service.port,
      uptimeSeconds:
        reading?.uptimeSeconds ??
        (service.startedAt === null ? null : Math.max(0, (overview.at - service.startedAt) / 1000)),
      restarts: service.restarts,
      cpuPercent,
      memoryBytes: reading?.memoryBytes ?? null,
      stoppedBy: service.stoppedBy,
      hitRate: counters === undefined || lookups === 0 ? null : counters.hits / (lookups as number),
      requests,
    };
  });
  return { at: now, rows, previous };
}
