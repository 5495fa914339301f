import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StatsRegistry } from '@core/stats';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPromtool, promtoolCheck } from '../../test/promtool.js';
import { renderAppMetrics } from './app-metrics.js';
import { createProcessMetrics, type ProcessMetrics } from './process-metrics.js';

const started: ProcessMetrics[] = [];
afterEach(() => {
  for (const metrics of started.splice(0)) metrics.stop();
});

function create(options?: Parameters<typeof createProcessMetrics>[0]): ProcessMetrics {
  const metrics = createProcessMetrics(options);
  started.push(metrics);
  return metrics;
}

function values(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('#')) continue;
    const [name, value] = line.split(' ');
    out.set(name as string, Number(value));
  }
  return out;
}

/** Blocks the event loop for `ms` (a real stall, as a slow synchronous handler would cause). */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

describe('createProcessMetrics', () => {
  it('reads the real process: memory, CPU, start time, heap', () => {
    const v = values(create().render());
    const rss = v.get('process_resident_memory_bytes') as number;
    // Within 20% of what Node reports now (the process grows between the two reads).
    expect(Math.abs(rss - process.memoryUsage.rss()) / rss).toBeLessThan(0.2);
    const cpu = process.cpuUsage();
    expect(v.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(v.get('process_cpu_seconds_total')).toBeLessThanOrEqual((cpu.user + cpu.system) / 1e6);
    expect(v.get('process_cpu_seconds_total')).toBeCloseTo(
      (v.get('process_cpu_user_seconds_total') as number) +
        (v.get('process_cpu_system_seconds_total') as number),
      6,
    );
    const start = v.get('process_start_time_seconds') as number;
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    expect(v.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('counts open file descriptors from /proc/self/fd, and sees one more when a file is opened', () => {
    const metrics = create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'process-metrics-'));
    try {
      const before = values(metrics.render()).get('process_open_fds') as number;
      expect(before).toBe(readdirSync('/proc/self/fd').length - 1);
      const fds = [0, 1, 2].map((i) => openSync(path.join(dir, `f${i}`), 'w'));
      const during = values(metrics.render()).get('process_open_fds') as number;
      for (const fd of fds) closeSync(fd);
      // Other code of this process may open or close fds meanwhile; 3 ours are a lower bound.
      expect(during - before).toBeGreaterThanOrEqual(3);
      expect(values(metrics.render()).get('process_max_fds')).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves process_open_fds out where there is no fd directory', () => {
    const text = create({ fdDir: '/nonexistent/fd' }).render();
    expect(text).not.toContain('process_open_fds');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('measures a real event-loop stall, and each scrape starts a new window', async () => {
    const metrics = create({ resolutionMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    metrics.render(); // start a clean window
    await new Promise((resolve) => setTimeout(resolve, 20));
    stall(300);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const v = values(metrics.render());
    // The stall shows as the largest delay (generous lower bound for a loaded machine).
    expect(v.get('nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.2);
    expect(v.get('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0.2);
    expect(v.get('nodejs_eventloop_lag_seconds')).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The next window has no stall in it.
    expect(values(metrics.render()).get('nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.2);
  });

  it('after stop() it still renders, with lag 0', () => {
    const metrics = create();
    metrics.stop();
    metrics.stop();
    const v = values(metrics.render());
    expect(v.get('nodejs_eventloop_lag_seconds')).toBe(0);
    expect(v.get('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it.runIf(hasPromtool())(
    'passes promtool check metrics, alone and together with the app families',
    async () => {
      const metrics = create();
      expect(promtoolCheck(metrics.render())).toEqual({ status: 0, output: '' });
      const app = renderAppMetrics({
        services: [{ name: 'api', up: true, restarts: 0, healthCheckFailures: 0, badMessages: 0 }],
        store: { kind: 'file', up: true, leaseRenewals: 0, leaseFailures: 0, outages: 0 },
      });
      expect(promtoolCheck(`${metrics.render()}${app}`)).toEqual({ status: 0, output: '' });
      // The whole /metrics body as the manager serves it: cache counters, app, process.
      const stats = new StatsRegistry();
      await stats.tracker('embeddings').recordHit();
      expect(promtoolCheck(`${stats.metrics()}${app}${metrics.render()}`)).toEqual({ status: 0, output: '' });
    },
  );
});
