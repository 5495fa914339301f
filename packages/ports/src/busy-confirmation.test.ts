import { describe, expect, it } from 'vitest';
import { confirmingBusy } from './busy-confirmation.js';
import type { ProbeOutcome } from './probe.js';

/** A probe that reads `outcomes` in turn (the last one from then on), counting calls. */
function sequence(...outcomes: ProbeOutcome[]) {
  let calls = 0;
  const probe = async (): Promise<ProbeOutcome> => outcomes[Math.min(calls++, outcomes.length - 1)]!;
  return { probe, calls: () => calls };
}

describe('confirmingBusy', () => {
  it('takes a port that was busy only for a moment (a peer probing it) as free', async () => {
    const s = sequence('busy', 'busy', 'free');
    expect(await confirmingBusy(s.probe, [1, 1, 1])('127.0.0.1', 1)).toBe('free');
    expect(s.calls()).toBe(3);
  });

  it('believes busy once it persists through every re-probe', async () => {
    const s = sequence('busy');
    expect(await confirmingBusy(s.probe, [1, 1, 1])('127.0.0.1', 1)).toBe('busy');
    expect(s.calls()).toBe(4);
  });

  it('probes free and denied ports once', async () => {
    for (const outcome of ['free', 'denied'] as const) {
      const s = sequence(outcome);
      expect(await confirmingBusy(s.probe, [1])('127.0.0.1', 1)).toBe(outcome);
      expect(s.calls()).toBe(1);
    }
  });
});
