import { describe, expect, it } from 'vitest';
import { type PortTableState, portInvariantEngine } from './invariants.js';

const state = (
  ports: Record<string, number>,
  configured: Record<string, number>,
  aliases: Record<string, string> = {},
): PortTableState => ({
  ports: new Map(Object.entries(ports)),
  configured: new Map(Object.entries(configured)),
  aliases: new Map(Object.entries(aliases)),
});

describe('port invariants', () => {
  it('find an out-of-range port, a shared port and a dangling alias, without healing by default', () => {
    const s = state({ a: 70000, b: 9000, c: 9000 }, { a: 8000, b: 9000, c: 9001 }, { x: 'a', y: 'gone' });
    const report = portInvariantEngine.validate(s);
    expect(report.consistent).toBe(false);
    expect(report.issues.map((i) => i.invariantId)).toEqual([
      'ports-in-range',
      'ports-unique',
      'aliases-defined',
    ]);
    expect(report.issues[0]?.details).toEqual({ names: ['a'], values: [70000] });
    expect(report.issues[1]?.details).toEqual({ shared: ['9000: b, c'] });
    expect(report.issues[2]?.details).toEqual({ aliases: ['y → gone'] });
    expect(s.ports.get('a')).toBe(70000);
    expect(s.aliases.has('y')).toBe(true);
  });

  it('heal: names go back to their configured port, dangling aliases are dropped', () => {
    const s = state({ a: 70000, b: 9000, c: 9000 }, { a: 8000, b: 9000, c: 9001 }, { x: 'a', y: 'gone' });
    const report = portInvariantEngine.validate(s, { autoHeal: true });
    expect(report.converged).toBe(true);
    expect(report.healed.map(String)).toEqual([
      'ports.a: 70000 → 8000',
      'ports.c: 9000 → 9001',
      'aliases.y: "gone" → undefined',
    ]);
    expect(Object.fromEntries(s.ports)).toEqual({ a: 8000, b: 9000, c: 9001 });
    expect([...s.aliases.keys()]).toEqual(['x']);
  });

  it('does not heal onto a port another name holds, and says so', () => {
    // c's configured port is b's current port: nowhere safe to move it.
    const s = state({ a: 8000, b: 9001, c: 8000 }, { a: 8000, b: 9000, c: 9001 });
    const report = portInvariantEngine.validate(s, { autoHeal: true });
    expect(report.converged).toBe(false);
    expect(report.remaining.map((i) => i.invariantId)).toEqual(['ports-unique']);
    expect(Object.fromEntries(s.ports)).toEqual({ a: 8000, b: 9001, c: 8000 });
  });
});
