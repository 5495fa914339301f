// Who was alive when, as the checker judges it: only deaths the test caused
// count. A worker that is merely slow is alive. A worker is dead
// - from the moment the test's SIGKILL returned (`kill`), or it exited by
//   itself (`exit` line: it found its session taken over);
// - while paused (SIGSTOP) or cut off (proxy) past its lease TTL: from the
//   moment its lease could first have run out on the server — the latest
//   `heldUntil` it had confirmed (a keepalive reply's send time plus the TTL
//   the server answered, so never later than the server's own expiry), and
//   not before the pause or cut began — until it took a new lease because
//   nobody had taken its record over (`renewed`, outcome `kept`), if ever.
// A worker not paused or cut past its TTL never dies that way, even if its
// lease went: a lease lost without a fault is reported (see `unprovoked`).
import type { FaultEvent, LeaseLine, WorkerLine } from './history.js';

/** Why and since when a worker counts as dead. */
export interface Death {
  readonly from: number;
  /** When it counted as alive again (a new lease, `kept`), or Infinity. */
  readonly until: number;
  readonly cause: string;
}

/** Per worker: its session, its deaths, and whether it was alive at a time. */
export class Liveness {
  private readonly workerOf = new Map<string, string>();
  private readonly deaths = new Map<string, Death[]>();
  /** Lease losses without a fault the test caused on that worker (the lease actually went: kept / taken-over). */
  readonly unprovoked: LeaseLine[] = [];

  constructor(lines: readonly WorkerLine[], faults: readonly FaultEvent[]) {
    const leases = new Map<string, LeaseLine[]>();
    for (const line of lines) {
      if (!this.workerOf.has(line.session)) this.workerOf.set(line.session, line.worker);
      if (line.kind === 'lease') leases.set(line.worker, [...(leases.get(line.worker) ?? []), line]);
      if (line.kind === 'exit') this.add(line.worker, { from: line.at, until: Infinity, cause: 'exited' });
    }
    const windows = new Map<string, { from: number; to: number }[]>();
    for (const fault of faults) {
      const worker = fault.worker;
      if (worker === undefined) continue;
      if (fault.fault === 'kill') this.add(worker, { from: fault.at, until: Infinity, cause: 'killed' });
      if (fault.fault !== 'pause' && fault.fault !== 'cut') continue;
      const end = faults.find(
        (f) =>
          f.worker === worker &&
          f.at >= fault.at &&
          f.fault === (fault.fault === 'pause' ? 'resume' : 'heal'),
      );
      windows.set(worker, [...(windows.get(worker) ?? []), { from: fault.at, to: end?.at ?? Infinity }]);
      if (end?.pastTtl !== true) continue;
      const own = leases.get(worker) ?? [];
      const confirmed = own
        .filter((l) => l.event === 'confirmed' && l.at <= fault.at)
        .map((l) => l.heldUntil);
      const lost = own.find((l) => l.event === 'lost' && l.at >= fault.at);
      const from = Math.max(fault.at, ...confirmed, lost?.heldUntil ?? fault.at);
      const revived = own.find((l) => l.event === 'renewed' && l.outcome === 'kept' && l.at >= fault.at);
      this.add(worker, {
        from,
        until: revived?.at ?? Infinity,
        cause: `${fault.fault === 'pause' ? 'paused' : 'cut off'} past its lease TTL`,
      });
    }
    for (const [worker, own] of leases) {
      const faulted = windows.get(worker) ?? [];
      let since = -Infinity;
      for (const line of own) {
        if (line.event !== 'renewed' || (line.outcome !== 'kept' && line.outcome !== 'taken-over')) continue;
        // When the lost lease ran out: what its loss reported, else the last confirmation logged
        // (a confirmation logged after the loss is already the next lease's).
        const before = own.filter((l) => l.at > since && l.at <= line.at);
        const lost = before.filter((l) => l.event === 'lost');
        const ranOut = Math.max(
          ...(lost.length > 0 ? lost : before.filter((l) => l.event === 'confirmed')).map((l) => l.heldUntil),
        );
        since = line.at;
        // Explained by a fault that began before the renewal and had not ended when the lease ran out.
        if (!faulted.some((w) => w.from <= line.at && ranOut <= w.to)) this.unprovoked.push(line);
      }
    }
  }

  /** The worker that owned `session` (undefined: not a worker's session, e.g. the drain's). */
  worker(session: string): string | undefined {
    return this.workerOf.get(session);
  }

  /** Whether the owner of `session` counted as alive at `at`. Sessions of no worker are alive. */
  alive(session: string, at: number): boolean {
    const worker = this.workerOf.get(session);
    return worker === undefined || this.deathAt(worker, at) === undefined;
  }

  /** The death covering `at`, if any. */
  deathAt(worker: string, at: number): Death | undefined {
    return this.deaths.get(worker)?.find((d) => d.from <= at && at < d.until);
  }

  /** Deaths of `worker` that begin at or after `at` (for the end of a hold). */
  deathsAfter(worker: string, at: number): Death[] {
    return (this.deaths.get(worker) ?? []).filter((d) => d.from >= at);
  }

  /** How the checker describes the owner of `session` at `at`. */
  describe(session: string, at: number): string {
    const worker = this.workerOf.get(session) ?? '?';
    const deaths = this.deaths.get(worker) ?? [];
    const later = deaths.filter((d) => d.from > at).map((d) => `${d.cause} at ${d.from}`);
    const state = this.deathAt(worker, at) ? 'dead' : 'alive';
    return `${worker} (session ${session}) was ${state} at ${at}${later.length > 0 ? `; later ${later.join(', ')}` : '; the test never caused its death before that'}`;
  }

  private add(worker: string, death: Death): void {
    this.deaths.set(worker, [...(this.deaths.get(worker) ?? []), death]);
  }
}
