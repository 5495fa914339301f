// With logs.destination "manager", service output reaches the manager's log as structured lines with the
// service name (stdout → info, stderr → warn, a JSON line at its own level);
// a 1 MiB line is cut, and a service printing 100k lines/s is rate-limited
// with the dropped lines counted and reported, the manager's memory bounded.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  killTagged,
  logLines,
  type ManagerUnderTest,
  misbehaving,
  startManager,
  waitUntil,
} from './helpers.js';

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
});

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
}

describe('service log forwarding (real processes)', { timeout: 60_000 }, () => {
  it('stdout → info, stderr → warn, a JSON line at its own level; long lines are cut', async () => {
    const m = await startManager({
      logs: { destination: 'manager', maxLineLength: 1_000 },
      services: [misbehaving('talker', 'json-log,long-line')],
    });
    managers.push(m);
    await m.ready();
    await m.waitForLog((e) => e['msg'] === 'after-long-line');
    const mine = logLines(m).filter((e) => e['service'] === 'talker' && e['stream'] !== undefined);
    const listening = mine.find((e) => String(e['msg']).startsWith('misbehaving-service'));
    expect(listening).toMatchObject({ level: 40, stream: 'stderr', component: 'service' });
    const json = mine.find((e) => e['msg'] === 'disk almost full');
    expect(json).toMatchObject({ level: 50, stream: 'stdout', serviceLog: { freeBytes: 1024 } });
    const long = mine.find((e) => e['truncated'] === true);
    expect(String(long?.['msg'])).toHaveLength(1_000);
    expect(mine.find((e) => e['msg'] === 'after-long-line')).toMatchObject({ level: 30, stream: 'stdout' });
    const status = (await m.status()).services[0]!;
    expect(status.logs).toMatchObject({ destination: 'manager', truncated: 1 });
  });

  it('100k lines/s: at most maxLinesPerSecond forwarded, the rest counted as dropped and reported; memory stays bounded', async () => {
    const m = await startManager({
      logs: { destination: 'manager', maxLinesPerSecond: 500 },
      services: [misbehaving('chatty', 'chatty', { env: { LINES_PER_SECOND: '100000' } })],
    });
    managers.push(m);
    await m.ready();
    const pid = m.child.pid as number;
    await new Promise((r) => setTimeout(r, 1_000));
    const rssEarly = rssKiB(pid);
    const counters = async () => {
      const logs = (await m.status()).services[0]!.logs;
      if (logs.destination !== 'manager')
        throw new Error(`expected the manager destination, got ${logs.destination}`);
      return logs;
    };
    const t0 = await counters();
    await new Promise((r) => setTimeout(r, 3_000));
    const t1 = await counters();
    const forwarded = t1.forwarded - t0.forwarded;
    const dropped = t1.dropped - t0.dropped;
    // ~3 s at 500 lines/s (+ the burst), against tens of thousands printed.
    expect(forwarded).toBeLessThanOrEqual(3 * 500 + 600);
    expect(forwarded).toBeGreaterThan(500);
    expect(dropped).toBeGreaterThan(10 * forwarded);
    await waitUntil(
      () => logLines(m).some((e) => String(e['msg']).startsWith('dropped ') && e['service'] === 'chatty'),
      10_000,
      'a dropped-lines report',
    );
    // Bounded: no growth with the lines (a generous margin for GC timing on a loaded machine).
    expect(rssKiB(pid) - rssEarly).toBeLessThan(40 * 1024);
    expect(m.child.exitCode).toBeNull();
  });
});
