// The public record of a lease re-established after it expired or the
// server lost its data. Kept apart from the lease machinery so the published
// declarations of the store's events never reach the Redis client's types.

/** Why and how this session's lease was re-established (or could not be). */
export interface LeaseRenewal {
  /** Epoch ms. */
  readonly at: number;
  /** The lease that had expired (or vanished with the server's data). */
  readonly previousLeaseId: string;
  /** The lease now, or null when a reaper had taken the record over (the session is dead to the fleet). */
  readonly leaseId: string | null;
  /**
   * `kept`: the lease had expired but nobody had taken the record over, so it
   * was re-established; `restored`: the server had lost its data (new epoch)
   * or went back to an older snapshot, and the record and its claims were
   * written again; `taken-over`: a reaper
   * holds (or finished) the record, nothing was written back.
   */
  readonly outcome: 'kept' | 'restored' | 'taken-over';
}
