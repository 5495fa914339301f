// The public shapes of lease state and events. Kept apart from the lease machinery so
// the published declarations of the store's events never reach the etcd
// client's types.

/** Why this session's lease counts as lost (see `EtcdSessionStore` event `leaseLost`). */
export interface LeaseLoss {
  /** Epoch ms it was noticed. */
  readonly at: number;
  /** The lease. */
  readonly leaseId: string;
  /**
   * `unconfirmed`: no keepalive reply within the TTL the server granted — the
   * cluster may have revoked it, so nothing is trusted to it meanwhile;
   * `expired`: the server said the lease is gone (with every key attached to it).
   */
  readonly reason: 'unconfirmed' | 'expired';
}

/** What became of a lease that counted as lost. */
export interface LeaseRenewal {
  /** Epoch ms. */
  readonly at: number;
  /** The lease that counted as lost. */
  readonly previousLeaseId: string;
  /** The lease now, or null when a reaper had taken the record over (the session is dead to the fleet). */
  readonly leaseId: string | null;
  /**
   * `confirmed`: it was only unconfirmed, and the server answered again with
   * its TTL (never revoked: nothing changed); `kept`: it had expired but
   * nobody had taken the record over, so a new lease took its place and the
   * session's claims were made again under it; `taken-over`: a reaper holds
   * (or finished) the record, nothing was written back.
   */
  readonly outcome: 'confirmed' | 'kept' | 'taken-over';
}

/** Readable state of the lease (see `EtcdSessionStore.leaseState`). */
export type LeaseState = 'none' | 'held' | 'unconfirmed' | 'expired' | 'released';
