// This store's own etcd lease: granted on first need, kept alive by a
// keepalive every `heartbeatMs`, and judged by what the server says — the
// TTL in each keepalive reply — not by etcd3's `lost` event, which comes only
// after 2×TTL without a keepalive. Three states follow from that:
// - held: the last keepalive reply was less than the server's TTL ago;
// - unconfirmed: no reply within that TTL (an outage, a partition, this
//   process paused): the server may have revoked it — the store says so at
//   once (`leaseLost`, reason `unconfirmed`) instead of pretending;
// - expired: the server said TTL 0 (or "not found"): it is gone, and with it
//   every key attached to it. The owner side then decides whether a new
//   lease may take its place (see own-session.ts).
// Nothing here throws into a timer: every background step catches its own errors.
import { castGrpcError, type ILeaseKeepAliveResponse } from 'etcd3';
import type { Connection } from './connection.js';
import { isRetryable } from './connection.js';
import { EtcdStoreUnavailableError } from './errors.js';
import type { LeaseLoss, LeaseState } from './renewal.js';

/** What the lease needs from its store. */
export interface LeaseContext {
  readonly connection: Connection;
  /** The store, for messages. */
  readonly location: string;
  readonly ttlSeconds: number;
  readonly heartbeatMs: number;
  /** The lease counts as lost (once per lease and reason). */
  readonly lost: (loss: LeaseLoss) => void;
  /** A lease presumed lost answered again with a TTL: it was never revoked. */
  readonly confirmed: (leaseId: string) => void;
  /** A background step failed (logged by the store). */
  readonly failed: (error: unknown) => void;
}

/** One lease at a time, kept alive until released. */
export class OwnLease {
  private id: string | null = null;
  private confirmedUntil = 0;
  private expired = false;
  private released = false;
  private lossReported: LeaseLoss['reason'] | null = null;
  private granting: Promise<string> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  /** Milliseconds the server granted (it may raise the TTL asked for to its minimum). */
  grantedTtlMs: number;

  /** @param context - see {@link LeaseContext} */
  constructor(private readonly context: LeaseContext) {
    this.grantedTtlMs = context.ttlSeconds * 1_000;
  }

  /** The current lease id, or null before the first grant. */
  get leaseId(): string | null {
    return this.id;
  }

  /** Derived from the last keepalive reply and the clock, so it is right whenever it is read. */
  get state(): LeaseState {
    if (this.released) return 'released';
    if (this.id === null) return 'none';
    if (this.expired) return 'expired';
    return Date.now() < this.confirmedUntil ? 'held' : 'unconfirmed';
  }

  /** Epoch ms until which the server has confirmed the lease (0 before the first grant). */
  get heldUntil(): number {
    return this.confirmedUntil;
  }

  /** The current lease, granted when there is none yet (one grant at a time). */
  current(): Promise<string> {
    if (this.id !== null && !this.expired) return Promise.resolve(this.id);
    return this.grant();
  }

  /** Grants a new lease in place of the current one (after it expired). */
  grant(): Promise<string> {
    this.granting ??= this.grantOnce().finally(() => {
      this.granting = null;
    });
    return this.granting;
  }

  /** Stops the keepalive; with `revoke`, the server drops the lease (and every key attached to it) now. */
  async release(revoke: boolean): Promise<void> {
    this.released = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const id = this.id;
    if (!revoke || id === null || this.expired) return;
    const { connection } = this.context;
    await connection.call(() => connection.client.leaseClient.leaseRevoke({ ID: id })).catch(() => undefined); // best effort: otherwise it expires after one TTL
  }

  /** Revokes a lease that is not (or no longer) the current one; never throws. */
  async revokeOther(id: string): Promise<void> {
    const { connection } = this.context;
    await connection.call(() => connection.client.leaseClient.leaseRevoke({ ID: id })).catch(() => undefined);
  }

  private async grantOnce(): Promise<string> {
    const { connection, ttlSeconds } = this.context;
    const sent = Date.now();
    const reply = await connection.call(() => connection.client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    const ttl = Number(reply.TTL);
    if (this.released) {
      await this.revokeOther(String(reply.ID));
      throw new EtcdStoreUnavailableError(
        this.context.location,
        0,
        new Error('the store was closed while a lease was being granted'),
      );
    }
    this.id = String(reply.ID);
    this.grantedTtlMs = ttl * 1_000;
    this.confirmedUntil = sent + this.grantedTtlMs;
    this.expired = false;
    this.lossReported = null;
    this.schedule(this.context.heartbeatMs);
    return this.id;
  }

  private schedule(ms: number): void {
    if (this.released) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.beat();
    }, ms);
    this.timer.unref();
  }

  /** One keepalive; never throws. */
  private async beat(): Promise<void> {
    const id = this.id;
    if (id === null || this.beating || this.released || this.expired) return;
    this.beating = true;
    let next = this.context.heartbeatMs;
    try {
      const sent = Date.now();
      const ttl = await this.keepAliveOnce(id);
      this.context.connection.noteReachable();
      if (this.id !== id) return; // replaced meanwhile
      if (ttl <= 0) {
        this.expired = true;
        this.report({ at: Date.now(), leaseId: id, reason: 'expired' });
        return;
      }
      const wasUnconfirmed = Date.now() >= this.confirmedUntil;
      this.confirmedUntil = sent + ttl * 1_000;
      if (wasUnconfirmed && this.lossReported === 'unconfirmed') {
        this.lossReported = null;
        this.context.confirmed(id);
      }
    } catch (error) {
      if (error instanceof Error && isRetryable(error)) this.context.connection.noteFailedAttempt(error);
      else this.context.failed(error);
      // Retried soon: the TTL keeps running while we cannot reach the cluster.
      next = Math.min(this.context.heartbeatMs, 250);
      if (this.id === id && Date.now() >= this.confirmedUntil)
        this.report({ at: Date.now(), leaseId: id, reason: 'unconfirmed' });
    } finally {
      this.beating = false;
      if (!this.expired) this.schedule(next);
    }
  }

  private report(loss: LeaseLoss): void {
    if (this.lossReported === loss.reason) return;
    this.lossReported = loss.reason;
    try {
      this.context.lost(loss);
    } catch (error) {
      this.context.failed(error);
    }
  }

  /** Sends one keepalive on a stream of its own and returns the TTL the server answered (seconds; 0: gone). */
  private async keepAliveOnce(id: string): Promise<number> {
    const stream = await this.context.connection.client.leaseClient.leaseKeepAlive();
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        try {
          stream.end();
        } catch {
          // already closed by the other side
        }
        fn();
      };
      // A listener stays for the stream's whole life: grpc may emit `error` after `end`
      // (cancelled, deadline), and an unheard `error` event would crash the process.
      stream.on('error', (error: Error) => finish(() => reject(castGrpcError(error))));
      stream.on('data', (reply: ILeaseKeepAliveResponse) => finish(() => resolve(Number(reply.TTL))));
      stream.on('end', () =>
        finish(() => reject(new Error('UNAVAILABLE: keepalive stream ended without a reply'))),
      );
      stream.write({ ID: id });
    });
  }
}
