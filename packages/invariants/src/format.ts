import type { FieldChange, ViolationDetails } from './types.js';

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Renders a change as the line `field: from → to` (e.g. `totalQueries: 100 → 95`). */
export function formatChange(change: FieldChange): string {
  return `${change.field}: ${formatValue(change.from)} → ${formatValue(change.to)}`;
}

/** Renders violation details as `key=value, key=value`. */
export function formatDetails(details: ViolationDetails): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(', ');
}
