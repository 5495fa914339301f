// Reaping dead sessions, written once against the store contract (file store
// and Redis alike): list, judge (staleness.ts), take each dead record over,
// run cleanups with bounded parallelism, remove a resource only after its
// cleanup succeeded, adopt failures in one write, finish each record. A
// reaper killed at any instant leaves records under its take-over name; the
// next reaper judges it dead and takes them over again, so everything stays
// reapable. The take-over itself is the "being cleaned by" mark: every
// resource of a record held under `<id>~reaping~<reaper>…` (file store) or
// owned by the reaper (Redis) is being cleaned by that reaper, and
// `listSessions()` reports it as `reaping.by`. Writing a per-resource mark as
// well would cost one more file creation per session, which on a loaded ext4
// disk was 10× the rest of reaping (0.3 s → 3.5 s for 1,000 sessions); the
// in-memory copies handed to `cleanup` carry `cleaningBy`.
import type {
  HostIdentity,
  ReapedResource,
  ReapOptions,
  ReapReport,
  ReapTakeover,
  ResourceRecord,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStore,
  StoredSession,
} from './contract.js';
import { refusalReason } from './resources.js';
import { judgeLiveness } from './staleness.js';

/** What reaping needs from the manager. */
export interface ReapContext {
  readonly store: SessionStore;
  /** The reaping session. */
  readonly me: SessionOwner;
  readonly host: HostIdentity;
  readonly maxAgeMs: number;
  readonly now: () => number;
  readonly logger: SessionLogger;
  /** Adopts failed resources into the reaping session's record in one write. @returns whether it was written. */
  readonly adopt: (items: readonly ReapedResource[]) => Promise<boolean>;
  /** Only dead sessions this accepts are taken over (default: all). */
  readonly accept?: (stored: StoredSession) => boolean;
}

interface Taken {
  readonly hold: ReapTakeover;
  readonly record: SessionRecord;
  pending: number;
  readonly kept: ResourceRecord[];
  readonly failed: ReapedResource[];
  readonly left: ReapedResource[];
}

function remainder(
  record: SessionRecord,
  kept: readonly ResourceRecord[],
  now: number,
): SessionRecord | null {
  if (kept.length === 0) return null;
  const resources = kept.map(({ cleaningBy: _by, cleaningSince: _since, ...rest }) => rest);
  const vmKept = record.vmId !== null && resources.some((r) => r.kind === 'vm' && r.id === record.vmId);
  return {
    ...record,
    status: 'stale',
    registeredAt: now,
    resources,
    ...(vmKept ? {} : { vmId: null, zone: null, components: [], metadata: {} }),
  };
}

/** Which dead sessions to take over, and why the others are skipped. */
export function chooseDead(
  listed: readonly StoredSession[],
  context: Pick<ReapContext, 'me' | 'host' | 'maxAgeMs' | 'now' | 'accept'>,
): { dead: StoredSession[]; skipped: { sessionId: string; reason: string }[] } {
  const now = context.now();
  const dead: StoredSession[] = [];
  const skipped: { sessionId: string; reason: string }[] = [];
  for (const stored of listed) {
    const { record } = stored;
    if (record.sessionId === context.me.sessionId) continue;
    const owner = judgeLiveness(record, {
      now,
      maxAgeMs: context.maxAgeMs,
      host: context.host,
      lease: stored.lease,
    });
    if (owner.liveness === 'live') continue;
    if (owner.liveness === 'unknown') {
      skipped.push({ sessionId: record.sessionId, reason: owner.reason });
      continue;
    }
    const reaping = stored.reaping;
    if (reaping && reaping.by.sessionId !== context.me.sessionId) {
      const reaper = judgeLiveness(
        { ...reaping.by, heartbeatAt: reaping.since },
        { now, maxAgeMs: context.maxAgeMs, host: context.host, lease: reaping.lease },
      );
      if (reaper.liveness !== 'dead') {
        skipped.push({
          sessionId: record.sessionId,
          reason: `being reaped by ${reaping.by.sessionId} (${reaper.reason})`,
        });
        continue;
      }
    }
    if (context.accept && !context.accept(stored)) continue;
    dead.push(stored);
  }
  return { dead, skipped };
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Reaps dead sessions (see `GlobalSessionManager.reapDeadSessions`). */
export async function reapDeadSessions(context: ReapContext, options: ReapOptions): Promise<ReapReport> {
  if (typeof options?.cleanup !== 'function')
    throw new TypeError(
      'reapDeadSessions: "cleanup" must be a function (resource, owner) => Promise<{ ok }>',
    );
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(
      `reapDeadSessions: "concurrency" must be a positive integer, got ${JSON.stringify(concurrency)}`,
    );
  const adopt = options.adopt ?? true;
  const { store, me, logger } = context;
  const report = {
    sessions: [] as string[],
    removed: [] as string[],
    cleaned: [] as ReapedResource[],
    failed: [] as ReapedResource[],
    adopted: [] as ReapedResource[],
    left: [] as ReapedResource[],
    refused: [] as ReapedResource[],
    skipped: [] as { sessionId: string; reason: string }[],
  };
  if (options.signal?.aborted) return report;
  const { dead, skipped } = chooseDead(await store.listSessions(), context);
  report.skipped.push(...skipped);

  const taken: Taken[] = [];
  const tasks: { session: Taken; resource: ResourceRecord }[] = [];
  for (const stored of dead) {
    if (options.signal?.aborted) break;
    let hold: ReapTakeover | null;
    try {
      hold = await store.takeOver(stored, me);
    } catch (error) {
      report.skipped.push({
        sessionId: stored.record.sessionId,
        reason: `take-over failed: ${(error as Error).message}`,
      });
      continue;
    }
    if (hold === null) {
      report.skipped.push({
        sessionId: stored.record.sessionId,
        reason: 'another reaper took it over first',
      });
      continue;
    }
    const since = context.now();
    const record = hold.record;
    const session: Taken = { hold, record, pending: 0, kept: [], failed: [], left: [] };
    taken.push(session);
    report.sessions.push(record.sessionId);
    for (const resource of record.resources) {
      const refused = refusalReason(resource);
      if (refused !== null) {
        session.kept.push(resource);
        report.refused.push({ sessionId: record.sessionId, resource, detail: refused });
        logger.warn(
          { sessionId: record.sessionId, kind: resource.kind, reason: refused },
          `refused to clean up ${resource.kind} of dead session ${record.sessionId}: ${refused}`,
        );
        continue;
      }
      session.pending++;
      tasks.push({ session, resource: { ...resource, cleaningBy: me.sessionId, cleaningSince: since } });
    }
  }

  const deferred: Taken[] = [];
  const settle = async (session: Taken): Promise<void> => {
    if (session.failed.length > 0 && adopt) {
      deferred.push(session);
      return;
    }
    session.kept.push(...session.left.map((l) => l.resource), ...session.failed.map((f) => f.resource));
    await finish(session);
  };
  const finish = async (session: Taken): Promise<void> => {
    const remaining = remainder(session.record, session.kept, context.now());
    try {
      await session.hold.finish(remaining);
      if (remaining === null) report.removed.push(session.record.sessionId);
    } catch (error) {
      // The record stays under our take-over name: reapable again once we are gone.
      logger.warn(
        { err: error, sessionId: session.record.sessionId },
        `could not finish reaping session ${session.record.sessionId}: ${(error as Error).message}`,
      );
    }
  };

  // Sessions with nothing to hand to a cleanup finish at once.
  for (const session of taken) if (session.pending === 0) await settle(session);

  await pool(tasks, concurrency, async ({ session, resource }) => {
    const sessionId = session.record.sessionId;
    if (options.signal?.aborted) {
      const item = { sessionId, resource, detail: 'not started: reaping was aborted' };
      session.left.push(item);
      report.left.push(item);
    } else {
      let result: { ok: boolean; detail?: string | undefined };
      try {
        result = await options.cleanup(resource, session.record);
      } catch (error) {
        result = { ok: false, detail: (error as Error).message };
      }
      const item = { sessionId, resource, detail: result.detail };
      if (result.ok) {
        report.cleaned.push(item);
        if (resource.claimed) {
          await store.releaseClaim(resource.kind, resource.id, sessionId).catch((error: unknown) => {
            logger.warn({ err: error }, `could not release the claim ${resource.kind} ${resource.id}`);
          });
        }
      } else {
        session.failed.push(item);
        report.failed.push(item);
        if (!adopt) report.left.push(item);
      }
    }
    if (--session.pending === 0) await settle(session);
  });

  if (deferred.length > 0) {
    const items = deferred.flatMap((s) => s.failed);
    let adopted = false;
    try {
      adopted = await context.adopt(items);
    } catch (error) {
      logger.warn(
        { err: error },
        `could not adopt ${items.length} failed resource(s): ${(error as Error).message}`,
      );
    }
    if (adopted) report.adopted.push(...items);
    else report.left.push(...items);
    for (const session of deferred) {
      session.kept.push(...session.left.map((l) => l.resource));
      if (!adopted) session.kept.push(...session.failed.map((f) => f.resource));
      await finish(session);
    }
  }
  return report;
}
