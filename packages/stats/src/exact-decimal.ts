/**
 * Exact decimal arithmetic for money: a value is `units / 10^scale` with
 * `units` a BigInt, so sums never pick up binary-float error (0.1 + 0.2 is
 * exactly 0.3 here).
 */
export interface ExactDecimal {
  readonly units: bigint;
  readonly scale: number;
}

/** Zero at scale 0. */
export const ZERO: ExactDecimal = Object.freeze({ units: 0n, scale: 0 });

const NUMBER_FORM = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

/**
 * The exact decimal a finite Number stands for, read from its shortest
 * round-trip string (`0.1` is the decimal 0.1, not the binary double nearest
 * to it). `1e-7` and `1.5e+21` forms are handled.
 */
export function decimalFromNumber(value: number): ExactDecimal {
  if (!Number.isFinite(value))
    throw new RangeError(`decimalFromNumber: expected a finite number, got ${value}`);
  const match = NUMBER_FORM.exec(String(value));
  if (match === null) throw new RangeError(`decimalFromNumber: cannot read ${String(value)}`);
  const [, sign = '', whole = '0', fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  let units = BigInt(`${sign}${whole}${fraction}`);
  let scale = fraction.length - exponent;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units, scale };
}

function rescale(value: ExactDecimal, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

/** `base + unit × count`, exactly. `count` must be a non-negative safe integer. */
export function addMultiple(base: ExactDecimal, unit: ExactDecimal, count: number): ExactDecimal {
  if (count === 0) return base;
  const scale = Math.max(base.scale, unit.scale);
  return { units: rescale(base, scale) + rescale(unit, scale) * BigInt(count), scale };
}

/** The exact decimal as a plain string (`"200.000"` → `"200"`, `"0.30"` → `"0.3"`). */
export function decimalToString(value: ExactDecimal): string {
  if (value.scale === 0) return value.units.toString();
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0');
  const cut = digits.length - value.scale;
  const fraction = digits.slice(cut).replace(/0+$/, '');
  return `${negative ? '-' : ''}${digits.slice(0, cut)}${fraction ? `.${fraction}` : ''}`;
}

/** The Number nearest to the exact decimal (so 0.3 exactly is the literal `0.3`). */
export function decimalToNumber(value: ExactDecimal): number {
  return value.scale === 0 ? Number(value.units) : Number(decimalToString(value));
}
