import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addMultiple, decimalFromNumber, decimalToNumber, decimalToString, ZERO } from './exact-decimal.js';

describe('exact decimals', () => {
  it('reads a Number as the decimal its shortest string spells', () => {
    expect(decimalFromNumber(0.1)).toEqual({ units: 1n, scale: 1 });
    expect(decimalFromNumber(0.002)).toEqual({ units: 2n, scale: 3 });
    expect(decimalFromNumber(1e-7)).toEqual({ units: 1n, scale: 7 });
    expect(decimalFromNumber(1.5e-10)).toEqual({ units: 15n, scale: 11 });
    expect(decimalFromNumber(1e21)).toEqual({ units: 10n ** 21n, scale: 0 });
    expect(decimalFromNumber(-2.5)).toEqual({ units: -25n, scale: 1 });
    expect(decimalFromNumber(0)).toEqual({ units: 0n, scale: 0 });
    expect(() => decimalFromNumber(Number.NaN)).toThrow(RangeError);
  });

  it('adds multiples without float drift', () => {
    const tenth = decimalFromNumber(0.1);
    expect(decimalToNumber(addMultiple(ZERO, tenth, 3))).toBe(0.3);
    expect(0.1 + 0.1 + 0.1).not.toBe(0.3); // what a float accumulator gets
    expect(decimalToNumber(addMultiple(ZERO, decimalFromNumber(0.002), 100_000))).toBe(200);
    expect(decimalToString(addMultiple(decimalFromNumber(0.2), tenth, 1))).toBe('0.3');
    expect(decimalToString(addMultiple(decimalFromNumber(1e-7), decimalFromNumber(3), 2))).toBe('6.0000001');
    expect(decimalToString({ units: -5n, scale: 3 })).toBe('-0.005');
  });

  it('round-trips every finite Number', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(decimalToNumber(decimalFromNumber(value))).toBe(value === 0 ? 0 : value);
      }),
    );
  });
});
