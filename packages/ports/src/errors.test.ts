import { describe, expect, it } from 'vitest';
import { formatAttempts, type PortAttempt } from './errors.js';

describe('formatAttempts', () => {
  it('folds runs of consecutive ports with one outcome into a range', () => {
    const attempts: PortAttempt[] = [
      { port: 8010, source: 'preferred', outcome: 'busy' },
      { port: 8011, source: 'fallback', outcome: 'denied' },
      ...[9000, 9001, 9002, 9003].map((port) => ({
        port,
        source: 'dynamic' as const,
        outcome: 'busy' as const,
      })),
      { port: 9004, source: 'dynamic', outcome: 'reserved-by-other-session' },
      { port: 9005, source: 'dynamic', outcome: 'busy' },
      { port: 9006, source: 'dynamic', outcome: 'busy' },
    ];
    expect(formatAttempts(attempts)).toBe(
      '8010 busy, 8011 denied, 9000–9003 busy, 9004 reserved-by-other-session, 9005 busy, 9006 busy',
    );
    expect(formatAttempts([])).toBe('');
  });
});
