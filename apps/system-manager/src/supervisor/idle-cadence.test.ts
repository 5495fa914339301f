import { describe, expect, it } from 'vitest';
import { IdleCadence } from './idle-cadence.js';

describe('IdleCadence', () => {
  it('doubles while checks pass, up to the idle interval', () => {
    const cadence = new IdleCadence(5_000, 30_000);
    expect(cadence.reset()).toBe(5_000);
    expect([1, 2, 3, 4].map(() => cadence.next(true))).toEqual([10_000, 20_000, 30_000, 30_000]);
  });

  it('drops back to the base interval at the first failed check, and stays there while they fail', () => {
    const cadence = new IdleCadence(5_000, 30_000);
    cadence.next(true);
    cadence.next(true);
    expect(cadence.next(false)).toBe(5_000);
    expect(cadence.next(false)).toBe(5_000);
    expect(cadence.next(true)).toBe(10_000);
  });

  it('never backs off when the idle interval is the base interval (or below it)', () => {
    expect(new IdleCadence(5_000, 5_000).next(true)).toBe(5_000);
    expect(new IdleCadence(5_000, 1_000).next(true)).toBe(5_000);
  });
});
