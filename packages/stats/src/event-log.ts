/** Kinds of events in a tracker's log. */
export type StatsEventType =
  | 'hit'
  | 'miss'
  | 'miss_expired'
  | 'miss_uninitialized'
  | 'cleanup_success'
  | 'cleanup_error'
  | 'consistency_violation'
  | 'reset';

/** Extra facts of one event (e.g. `{ entriesCleaned: 3 }`). */
export type StatsEventDetails = Readonly<Record<string, unknown>>;

/** One entry of the event log, as returned by `getRecentEvents`. */
export interface StatsEvent {
  /** When it happened, epoch milliseconds (from the tracker's clock). */
  readonly timestamp: number;
  /** What happened. */
  readonly type: StatsEventType;
  /** Extra facts of the event. */
  readonly details: StatsEventDetails;
  /** The hit/miss/total counters right after the event. */
  readonly snapshot: { readonly hits: number; readonly misses: number; readonly total: number };
}

/**
 * How an event is stored: its type plus how to rebuild its details, so the
 * common events need no details object at all.
 */
export const EventCode = Object.freeze({
  hitWithSavings: 0,
  hitWithoutSavings: 1,
  miss: 2,
  missExpired: 3,
  missUninitialized: 4,
  /** details: `{ entriesCleaned: value }` */
  cleanupSuccess: 5,
  /** details: `{ entriesCleaned: value }` */
  cleanupFailed: 6,
  /** details: `{}` */
  cleanupError: 7,
  /** details: the stored object */
  consistencyViolation: 8,
  reset: 9,
});

const TYPE_OF_CODE: readonly StatsEventType[] = [
  'hit',
  'hit',
  'miss',
  'miss_expired',
  'miss_uninitialized',
  'cleanup_success',
  'cleanup_error',
  'cleanup_error',
  'consistency_violation',
  'reset',
];

/** Largest accepted `maxEventLogSize`: the log is preallocated, and more belongs in a real log. */
export const MAX_EVENT_LOG_SIZE = 1_000_000;

// One slot is six numbers: timestamp, code, hits, misses, total, value.
const STRIDE = 6;

/**
 * The newest `capacity` events in a ring buffer: one preallocated
 * Float64Array of fixed-size slots and a write index, so recording is O(1)
 * and allocation-free whatever the capacity (no copy of the list when it is
 * full: the oldest slot is overwritten). Details objects are built when
 * read; only a `consistency_violation` stores one.
 */
export class EventLog {
  readonly capacity: number;
  readonly #slots: Float64Array;
  /**
   * Details objects of slots whose event carries one (consistency violations),
   * by slot. Read only for those codes, so a stale entry left by an
   * overwritten event is never seen and the hot path never touches this.
   */
  readonly #details: (StatsEventDetails | undefined)[] = [];
  /** Slot the next event goes to. */
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_EVENT_LOG_SIZE) {
      throw new RangeError(
        `maxEventLogSize must be an integer from 1 to ${MAX_EVENT_LOG_SIZE}, got ${String(capacity)}`,
      );
    }
    this.capacity = capacity;
    this.#slots = new Float64Array(capacity * STRIDE);
  }

  /** How many events the log holds now (at most `capacity`). */
  get size(): number {
    return this.#size;
  }

  /** Appends an event, overwriting the oldest when full. O(1). */
  push(timestamp: number, code: number, hits: number, misses: number, total: number, value = 0): void {
    const slot = this.#next;
    const at = slot * STRIDE;
    const slots = this.#slots;
    slots[at] = timestamp;
    slots[at + 1] = code;
    slots[at + 2] = hits;
    slots[at + 3] = misses;
    slots[at + 4] = total;
    slots[at + 5] = value;
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.#size < this.capacity) this.#size += 1;
  }

  /** Appends an event that carries a details object. */
  pushWithDetails(
    timestamp: number,
    code: number,
    hits: number,
    misses: number,
    total: number,
    details: StatsEventDetails,
  ): void {
    const slot = this.#next;
    this.push(timestamp, code, hits, misses, total);
    this.#details[slot] = details;
  }

  #detailsOf(slot: number, code: number, value: number): StatsEventDetails {
    switch (code) {
      case EventCode.hitWithSavings:
        return { addCostSavings: true };
      case EventCode.hitWithoutSavings:
        return { addCostSavings: false };
      case EventCode.cleanupSuccess:
      case EventCode.cleanupFailed:
        return { entriesCleaned: value };
      default:
        return code === EventCode.consistencyViolation ? (this.#details[slot] ?? {}) : {};
    }
  }

  /** The newest `count` events, oldest first, as fresh objects. */
  recent(count: number): StatsEvent[] {
    const n = Math.min(count, this.#size);
    const events: StatsEvent[] = new Array(n);
    let slot = (this.#next - n + this.capacity) % this.capacity;
    for (let i = 0; i < n; i++) {
      const at = slot * STRIDE;
      const s = this.#slots;
      const code = s[at + 1] as number;
      events[i] = {
        timestamp: s[at] as number,
        type: TYPE_OF_CODE[code] as StatsEventType,
        details: this.#detailsOf(slot, code, s[at + 5] as number),
        snapshot: { hits: s[at + 2] as number, misses: s[at + 3] as number, total: s[at + 4] as number },
      };
      slot = slot + 1 === this.capacity ? 0 : slot + 1;
    }
    return events;
  }

  clear(): void {
    this.#details.length = 0;
    this.#next = 0;
    this.#size = 0;
  }
}
