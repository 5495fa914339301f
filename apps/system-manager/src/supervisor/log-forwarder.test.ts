import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LogForwarder, TAIL_LINES } from './log-forwarder.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'trace' },
    { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  return { lines, log };
}

describe('LogForwarder', () => {
  it('splits chunks into lines at any boundary, keeps a split UTF-8 character whole', () => {
    const { lines, log } = capture();
    const f = new LogForwarder('svc', log, { maxLineLength: 100, maxLinesPerSecond: 1_000 });
    const bytes = Buffer.from('first\nsecond ü line\nthird');
    const cut = bytes.indexOf(0xc3) + 1; // inside "ü"
    f.push('stdout', bytes.subarray(0, cut));
    f.push('stdout', bytes.subarray(cut));
    f.push('stderr', 'an error\r\n');
    expect(lines.map((l) => [l['msg'], l['level'], l['stream']])).toEqual([
      ['first', 30, 'stdout'],
      ['second ü line', 30, 'stdout'],
      ['an error', 40, 'stderr'],
    ]);
    f.flush();
    expect(lines.at(-1)).toMatchObject({ msg: 'third', service: 'svc' });
    expect(f.counters()).toEqual({ forwarded: 4, dropped: 0, truncated: 0 });
  });

  it("uses the level and message of a service's own JSON line, keeping its fields", () => {
    const { lines, log } = capture();
    const f = new LogForwarder('svc', log, { maxLineLength: 1_000, maxLinesPerSecond: 1_000 });
    f.push(
      'stdout',
      '{"level":50,"msg":"boom","code":7}\n{"level":"warning","message":"careful"}\n{not json\n',
    );
    expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
      [50, 'boom'],
      [40, 'careful'],
      [30, '{not json'],
    ]);
    expect(lines[0]?.['serviceLog']).toEqual({ code: 7 });
  });

  it('cuts a line without a newline at maxLineLength and skips the rest of it, never buffering it', () => {
    const { lines, log } = capture();
    const f = new LogForwarder('svc', log, { maxLineLength: 64, maxLinesPerSecond: 1_000 });
    for (let i = 0; i < 1_000; i++) f.push('stdout', 'y'.repeat(1_000)); // 1 MB, no newline
    f.push('stdout', 'tail of the long line\nnext\n');
    expect(lines.map((l) => String(l['msg']).length)).toEqual([64, 4]);
    expect(lines[0]?.['truncated']).toBe(true);
    expect(lines[1]?.['msg']).toBe('next');
    expect(f.counters().truncated).toBe(1);
  });

  it('rate-limits per second, counts dropped lines and reports them in one warning', () => {
    const { lines, log } = capture();
    const f = new LogForwarder('svc', log, { maxLineLength: 100, maxLinesPerSecond: 10 });
    f.push('stdout', 'line\n'.repeat(1_000));
    f.flush();
    const counters = f.counters();
    expect(counters.forwarded).toBeGreaterThanOrEqual(10);
    expect(counters.forwarded).toBeLessThanOrEqual(11);
    expect(counters.forwarded + counters.dropped).toBe(1_000);
    const reports = lines.filter((l) => String(l['msg']).startsWith('dropped '));
    expect(reports.reduce((n, r) => n + Number(r['droppedLines']), 0)).toBe(counters.dropped);
    expect(reports.length).toBeLessThanOrEqual(2);
  });

  it('keeps the last lines for error reports', () => {
    const { log } = capture();
    const f = new LogForwarder('svc', log, { maxLineLength: 100, maxLinesPerSecond: 1 });
    for (let i = 0; i < 50; i++) f.push(i % 2 ? 'stderr' : 'stdout', `line ${i}\n`);
    f.push('stdout', 'partial');
    const tail = f.lastLines();
    expect(tail).toHaveLength(TAIL_LINES);
    expect(tail.at(-1)).toBe('partial');
    expect(tail.at(-2)).toBe('line 49');
  });
});
