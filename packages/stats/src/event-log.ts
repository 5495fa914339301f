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

/** Extra facts of one event (e.g. `{ entriesCleaned: 3 }`). Shared, frozen objects: never mutate. */
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

const TYPES: readonly StatsEventType[] = [
  'hit',
  'miss',
  'miss_expired',
  'miss_uninitialized',
  'cleanup_success',
  'cleanup_error',
  'consistency_violation',
  'reset',
];
const TYPE_CODE = Object.fromEntries(TYPES.map((type, code) => [type, code])) as Record<
  StatsEventType,
  number
>;

/** Largest accepted `maxEventLogSize`: the log is preallocated, and more belongs in a real log. */
export const MAX_EVENT_LOG_SIZE = 1_000_000;

/**
 * The newest `capacity` events in a ring buffer: preallocated columns (typed
 * arrays for the numbers) and a write index, so recording is O(1) and
 * allocation-free whatever the capacity. The original copied the whole list
 * on every record past the limit (O(n)).
 */
export class EventLog {
  readonly capacity: number;
  readonly #timestamps: Float64Array;
  readonly #types: Uint8Array;
  readonly #hits: Float64Array;
  readonly #misses: Float64Array;
  readonly #totals: Float64Array;
  readonly #details: (StatsEventDetails | undefined)[];
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
    this.#timestamps = new Float64Array(capacity);
    this.#types = new Uint8Array(capacity);
    this.#hits = new Float64Array(capacity);
    this.#misses = new Float64Array(capacity);
    this.#totals = new Float64Array(capacity);
    this.#details = new Array<StatsEventDetails | undefined>(capacity).fill(undefined);
  }

  /** How many events the log holds now (at most `capacity`). */
  get size(): number {
    return this.#size;
  }

  push(
    timestamp: number,
    type: StatsEventType,
    details: StatsEventDetails,
    hits: number,
    misses: number,
    total: number,
  ): void {
    const slot = this.#next;
    this.#timestamps[slot] = timestamp;
    this.#types[slot] = TYPE_CODE[type];
    this.#details[slot] = details;
    this.#hits[slot] = hits;
    this.#misses[slot] = misses;
    this.#totals[slot] = total;
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.#size < this.capacity) this.#size += 1;
  }

  /** The newest `count` events, oldest first, as fresh objects. */
  recent(count: number): StatsEvent[] {
    const n = Math.min(count, this.#size);
    const events: StatsEvent[] = new Array(n);
    let slot = (this.#next - n + this.capacity) % this.capacity;
    for (let i = 0; i < n; i++) {
      events[i] = {
        timestamp: this.#timestamps[slot] as number,
        type: TYPES[this.#types[slot] as number] as StatsEventType,
        details: this.#details[slot] as StatsEventDetails,
        snapshot: {
          hits: this.#hits[slot] as number,
          misses: this.#misses[slot] as number,
          total: this.#totals[slot] as number,
        },
      };
      slot = slot + 1 === this.capacity ? 0 : slot + 1;
    }
    return events;
  }

  clear(): void {
    this.#details.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
