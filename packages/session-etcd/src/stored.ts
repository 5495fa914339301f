// The public shapes of what this store hands out beyond the contract: kept
// apart from the machinery so the published declarations never reach the
// etcd client's types.
import type { ReapingMark, ReapTakeover, StoredSession } from '@core/session/store';

/** A reaping mark as this store reports it: with the fencing token of the take-over. */
export interface EtcdReapingMark extends ReapingMark {
  /** The etcd revision of the take-over: the fencing token every step of that reaper carries. */
  readonly token: string;
}

/** A stored session as this store reports it. */
export interface EtcdStoredSession extends StoredSession {
  readonly reaping?: EtcdReapingMark | undefined;
}

/** A take-over by this store: the contract's hold plus its fencing token. */
export interface EtcdReapTakeover extends ReapTakeover {
  /** The etcd revision of the take-over (decimal): the fencing token. */
  readonly fencingToken: string;
  /** Whether this take-over still holds the record (no later reaper superseded it). */
  stillHeld(): Promise<boolean>;
}
