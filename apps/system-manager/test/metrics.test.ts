// The app's own /metrics, scraped from a real manager and checked by the real
// Prometheus parser (promtool): services up, restarts after a real kill -9,
// the session store's state, and process metrics, beside the cache counters.
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, isAlive, killTagged, type ManagerUnderTest, startManager, waitUntil } from './helpers.js';
import { hasPromtool, promtoolCheck } from './promtool.js';

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
});

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.skipIf(!hasPromtool())('GET /metrics of a running manager', { timeout: 60_000 }, () => {
  it('passes promtool and counts a real restart, the store and the process', async () => {
    const manager = await startManager({
      services: [
        {
          name: 'cache-service',
          command: '{node}',
          args: ['{builtin:example/cache-service}'],
          port: 'main_api',
        },
      ],
    });
    managers.push(manager);
    const control = await manager.ready();
    const first = (await manager.status()).services[0];
    const firstPid = first?.pid as number;
    expect(isAlive(firstPid)).toBe(true);

    const before = (await httpGet(control, '/metrics')).body;
    expect(promtoolCheck(before)).toEqual({ status: 0, output: '' });
    expect(sample(before, 'system_manager_service_up{service="cache-service"}')).toBe(1);
    expect(sample(before, 'system_manager_service_restarts_total{service="cache-service"}')).toBe(0);
    expect(sample(before, 'system_manager_session_store_up')).toBe(1);
    expect(sample(before, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(sample(before, 'process_open_fds')).toBeGreaterThan(0);

    // A real crash: the supervisor restarts it, and /metrics says so.
    process.kill(firstPid, 'SIGKILL');
    await waitUntil(
      async () => {
        const s = (await manager.status()).services[0];
        return s?.restarts === 1 && s.state === 'healthy';
      },
      20_000,
      'restarted and healthy',
    );
    const after = (await httpGet(control, '/metrics')).body;
    expect(promtoolCheck(after)).toEqual({ status: 0, output: '' });
    expect(sample(after, 'system_manager_service_restarts_total{service="cache-service"}')).toBe(1);
    expect(sample(after, 'system_manager_service_up{service="cache-service"}')).toBe(1);

    manager.child.kill('SIGTERM');
    expect((await manager.exited).code).toBe(0);
  });
});
