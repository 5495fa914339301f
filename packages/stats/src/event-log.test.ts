import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventCode, EventLog } from './event-log.js';

describe('EventLog (ring buffer)', () => {
  it('keeps exactly the newest `capacity` events, oldest first, like a trimmed list', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.oneof(fc.constant<'push'>('push'), fc.constant<'clear'>('clear')), { maxLength: 100 }),
        fc.nat({ max: 30 }),
        (capacity, ops, count) => {
          const log = new EventLog(capacity);
          let model: number[] = [];
          let n = 0;
          for (const op of ops) {
            if (op === 'clear') {
              log.clear();
              model = [];
            } else {
              n++;
              log.push(n, EventCode.hitWithSavings, n, 0, n);
              model.push(n);
              if (model.length > capacity) model.shift();
            }
          }
          expect(log.size).toBe(model.length);
          expect(log.recent(count).map((e) => e.timestamp)).toEqual(
            model.slice(Math.max(0, model.length - count)),
          );
        },
      ),
    );
  });

  it('rebuilds each event type and its details from the slot', () => {
    const log = new EventLog(20);
    const violation = Object.freeze({ healed: ['x: 1 → 0'] });
    log.push(1, EventCode.hitWithSavings, 1, 0, 1);
    log.push(2, EventCode.hitWithoutSavings, 2, 0, 2);
    log.push(3, EventCode.miss, 2, 1, 3);
    log.push(4, EventCode.missExpired, 2, 2, 4);
    log.push(5, EventCode.missUninitialized, 2, 3, 5);
    log.push(6, EventCode.cleanupSuccess, 2, 3, 5, 7);
    log.push(7, EventCode.cleanupFailed, 2, 3, 5, 4);
    log.push(8, EventCode.cleanupError, 2, 3, 5);
    log.pushWithDetails(9, EventCode.consistencyViolation, 2, 3, 5, violation);
    log.push(10, EventCode.reset, 0, 0, 0);
    const events = log.recent(20);
    expect(events.map((e) => [e.type, e.details])).toEqual([
      ['hit', { addCostSavings: true }],
      ['hit', { addCostSavings: false }],
      ['miss', {}],
      ['miss_expired', {}],
      ['miss_uninitialized', {}],
      ['cleanup_success', { entriesCleaned: 7 }],
      ['cleanup_error', { entriesCleaned: 4 }],
      ['cleanup_error', {}],
      ['consistency_violation', violation],
      ['reset', {}],
    ]);
    expect(events[8]).toEqual({
      timestamp: 9,
      type: 'consistency_violation',
      details: violation,
      snapshot: { hits: 2, misses: 3, total: 5 },
    });
  });

  it('never shows a details object of an event that was overwritten', () => {
    const log = new EventLog(2);
    log.pushWithDetails(1, EventCode.consistencyViolation, 0, 0, 0, { healed: ['old'] });
    log.push(2, EventCode.miss, 0, 1, 1);
    log.push(3, EventCode.cleanupError, 0, 1, 1);
    expect(log.recent(2).map((e) => e.details)).toEqual([{}, {}]);
    log.clear();
    expect(log.recent(5)).toEqual([]);
    expect(() => new EventLog(0)).toThrow(RangeError);
  });
});
