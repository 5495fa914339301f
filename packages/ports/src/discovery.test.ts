import { describe, expect, it } from 'vitest';
import { discoverPorts } from './discovery.js';
import type { ProbeOutcome } from './probe.js';

// EACCES cannot be met in-process when tests run as root (probe.test.ts meets it
// in an unprivileged child); here a table of outcomes drives the decision logic.
function table(outcomes: Record<number, ProbeOutcome>) {
  const probed: number[] = [];
  const probe = async (_host: string, port: number): Promise<ProbeOutcome> => {
    probed.push(port);
    return outcomes[port] ?? 'free';
  };
  return { probe, probed };
}

const base = {
  host: '127.0.0.1',
  names: ['api'],
  current: new Map([['api', 80]]),
  fallbacks: new Map([['api', [81, 8080]]]),
  dynamicRange: null,
  takenByOthers: new Set<string>(),
};

describe('discoverPorts', () => {
  it('reports a denied port distinctly and moves on', async () => {
    const { probe } = table({ 80: 'denied', 81: 'denied' });
    const [api] = await discoverPorts({ ...base, probe });
    expect(api).toMatchObject({ port: 8080, reason: 'fallback' });
    expect(api?.attempts.map((a) => a.outcome)).toEqual(['denied', 'denied', 'free']);
  });

  it('probes a denied port again on the next run (not remembered as busy)', async () => {
    const first = table({ 80: 'denied' });
    await discoverPorts({ ...base, probe: first.probe });
    const second = table({});
    const [api] = await discoverPorts({ ...base, probe: second.probe });
    expect(second.probed).toContain(80);
    expect(api?.reason).toBe('preferred');
  });

  it('never binds a port another session reserved', async () => {
    const { probe, probed } = table({});
    const [api] = await discoverPorts({ ...base, probe, takenByOthers: new Set(['127.0.0.1:80']) });
    expect(api?.port).toBe(81);
    expect(probed).not.toContain(80);
  });

  it('scans the dynamic range in order, skipping ports already tried', async () => {
    const { probe } = table({ 80: 'busy', 81: 'busy', 8080: 'busy', 9000: 'busy' });
    const [api] = await discoverPorts({ ...base, probe, dynamicRange: [8080, 9001] });
    expect(api).toMatchObject({ port: 8081, reason: 'dynamic' });
    expect(api?.attempts.map((a) => `${a.port} ${a.source}`)).toEqual([
      '80 preferred',
      '81 fallback',
      '8080 fallback',
      '8081 dynamic',
    ]);
  });

  it('gives two names different ports when they share fallbacks', async () => {
    const { probe } = table({ 80: 'busy', 90: 'busy' });
    const resolutions = await discoverPorts({
      ...base,
      names: ['a', 'b'],
      current: new Map([
        ['a', 80],
        ['b', 90],
      ]),
      fallbacks: new Map([
        ['a', [100, 101]],
        ['b', [100, 101]],
      ]),
      probe,
    });
    expect(resolutions.map((r) => r.port)).toEqual([100, 101]);
    expect(resolutions[1]?.attempts.map((a) => a.outcome)).toEqual(['busy', 'used-by-other-name', 'free']);
  });
});
