import { describe, expect, it } from 'vitest';
import type { Overview } from '../../control-socket/overview.js';
import type { ProcessUsage } from '../proc-stats.js';
import { parseKeys } from './keys.js';
import { advance, HISTORY_LENGTH, type TopRow } from './model.js';
import { bytes, duration, render, sparkline, type TopView } from './render.js';

// The SGR and cursor sequences render() writes (built from a string: a regex literal may not hold ESC).
const ESC = new RegExp(`${'\x1b'}\\[[0-9;?]*[A-Za-z]`, 'g');
const visible = (line: string) => line.replace(ESC, '');

function overview(
  services: Partial<Overview['services'][number]>[],
  caches: Overview['caches'] = {},
): Overview {
  return {
    at: 10_000,
    services: services.map((s, i) => ({
      name: `svc${i}`,
      state: 'healthy',
      health: 'ok',
      pid: 100 + i,
      port: 8000 + i,
      startedAt: 4_000,
      restarts: 0,
      stoppedBy: null,
      ...s,
    })),
    caches,
  };
}

const usage =
  (cpu: Record<number, number>, startTime = '1') =>
  (pid: number): ProcessUsage | null =>
    cpu[pid] === undefined
      ? null
      : { cpuPercent: 0, memoryBytes: 50 * 1024 * 1024, uptimeSeconds: 6, startTime, cpuSeconds: cpu[pid] };

describe('top: the model', () => {
  it('gives CPU % over the last interval, only for the same process', () => {
    const first = advance(null, overview([{}]), usage({ 100: 1.0 }), 0);
    expect(first.rows[0]?.cpuPercent).toBeNull();
    const second = advance(first, overview([{}]), usage({ 100: 1.25 }), 500);
    expect(second.rows[0]?.cpuPercent).toBeCloseTo(50);
    // Same pid, another process (start time differs): no delta across them.
    const reused = advance(second, overview([{}]), usage({ 100: 9 }, '2'), 1000);
    expect(reused.rows[0]?.cpuPercent).toBeNull();
    // Stopped: no pid, no reading.
    const stopped = advance(
      reused,
      overview([{ pid: null, state: 'stopped', startedAt: null }]),
      usage({}),
      1500,
    );
    expect(stopped.rows[0]).toMatchObject({ cpuPercent: null, memoryBytes: null, uptimeSeconds: null });
  });

  it('counts lookups per interval for the sparkline and the hit rate from the counters', () => {
    let model = advance(null, overview([{}], { svc0: { hits: 0, misses: 0 } }), usage({}), 0);
    expect(model.rows[0]?.hitRate).toBeNull();
    model = advance(model, overview([{}], { svc0: { hits: 3, misses: 1 } }), usage({}), 1000);
    model = advance(model, overview([{}], { svc0: { hits: 9, misses: 3 } }), usage({}), 2000);
    expect(model.rows[0]?.requests).toEqual([4, 8]);
    expect(model.rows[0]?.hitRate).toBeCloseTo(0.75);
    // The service restarted: its counters begin again; no negative count.
    model = advance(model, overview([{}], { svc0: { hits: 1, misses: 1 } }), usage({}), 3000);
    expect(model.rows[0]?.requests).toEqual([4, 8, 2]);
    for (let i = 0; i < HISTORY_LENGTH + 5; i++)
      model = advance(model, overview([{}], { svc0: { hits: 1, misses: 1 } }), usage({}), 4000 + i);
    expect(model.rows[0]?.requests).toHaveLength(HISTORY_LENGTH);
  });
});

function view(rows: TopRow[], extra: Partial<TopView> = {}): TopView {
  return {
    session: 'abc',
    rows,
    selected: 0,
    logLines: [],
    message: null,
    connected: true,
    clock: '12:00:00',
    ...extra,
  };
}

function rowsOf(n: number): TopRow[] {
  return advance(null, overview(Array.from({ length: n }, () => ({}))), usage({}), 0).rows as TopRow[];
}

describe('top: the frame', () => {
  it('is exactly height lines, none wider than the terminal, whatever its size', () => {
    for (const [w, h] of [
      [120, 30],
      [80, 24],
      [40, 10],
      [20, 5],
      [1, 1],
    ] as const) {
      const lines = render(view(rowsOf(12), { logLines: ['x'.repeat(500)], message: 'm'.repeat(300) }), w, h);
      expect(lines, `${w}x${h}`).toHaveLength(h);
      for (const line of lines)
        expect(Array.from(visible(line)).length, `${w}x${h}: ${line}`).toBeLessThanOrEqual(w);
    }
  });

  it('shows every service with its state, pid and port; the selected one in reverse video and always on screen', () => {
    const rows = rowsOf(12);
    const lines = render(view(rows, { selected: 11 }), 120, 10);
    const text = lines.map(visible);
    expect(text.some((l) => /^svc11\s+healthy\s+111\s+8011\b/.test(l))).toBe(true);
    const selected = lines.find((l) => visible(l).startsWith('svc11'));
    expect(selected?.startsWith('\x1b[7m')).toBe(true);
    expect(text[text.length - 1]).toContain('q quit');
  });

  it('neutralises what a service prints or is named: no escape sequence from the manager reaches the terminal', () => {
    const rows = rowsOf(1).map((r) => ({ ...r, name: 'evil\x1b[2J' }));
    const lines = render(view(rows, { logLines: ['\x1b]0;title\x07red\x1b[31m'] }), 120, 12);
    const all = lines.join('\n');
    expect(all).not.toContain('\x1b[2J');
    expect(all).not.toContain('\x1b]0;');
    expect(all).toContain('evil\\u{1b}[2J');
  });

  it('says when the manager is gone', () => {
    expect(render(view(rowsOf(1), { connected: false }), 120, 10)[0]).toContain('manager gone');
  });

  it('formats sparklines, durations and sizes', () => {
    expect(sparkline([0, 1, 2, 4, 8], 10)).toBe('▁▁▂▄█');
    expect(sparkline([0, 0], 10)).toBe('▁▁');
    expect(sparkline([1, 2, 3], 2)).toHaveLength(2);
    expect([
      duration(null),
      duration(5),
      duration(303),
      duration(7_620),
      duration(3 * 86_400 + 4 * 3600),
    ]).toEqual(['-', '5s', '5m03s', '2h07m', '3d04h']);
    expect([bytes(null), bytes(512), bytes(43_200_000)]).toEqual(['-', '512B', '41.2M']);
  });
});

describe('top: keys', () => {
  it('reads arrows (both cursor modes), vi keys, actions and quit, several per read', () => {
    expect(parseKeys('\x1b[A\x1bOB jkrstq\x03')).toEqual([
      'up',
      'down',
      'down',
      'up',
      'restart',
      'stop',
      'start',
      'quit',
      'quit',
    ]);
    expect(parseKeys('\x1a')).toEqual(['suspend']);
    // Unknown sequences (F5, mouse, a bare ESC) are skipped whole, not read as keys.
    expect(parseKeys('\x1b[15~\x1b[<0;10;5M\x1bx')).toEqual([]);
  });
});
