import { hostname } from 'node:os';
import {
  type GlobalSessionManager,
  type ResourceRecord,
  readProcessSessionId,
  readProcessStartTime,
  SESSION_ID_ENV,
  type SessionRecord,
  type SessionStore,
} from '@core/session';
import { type CleanupAction, type CleanupOutcome, runCleanupCommand } from './cleanup-command.js';
import type { CleanupConfig } from './config.js';
import { cleanupFencingOf } from './fleet-store.js';
import type { Logger } from './logger.js';
import { signalGroup } from './services.js';

export {
  type CleanupAction,
  type CleanupOutcome,
  MissingFencingTokenError,
  renderCommand,
  runCleanupCommand,
  UnsafeCommandValueError,
} from './cleanup-command.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops an orphaned child process of a dead session — only after proving it
 * is the process that session started: same pid, same start time, and the
 * session's id in the process's own environment (`SESSION_ID_ENV`, read from
 * `/proc/<pid>/environ`; a record can copy a live service's pid and start
 * time, not its environment). SIGTERM, then SIGKILL after `graceMs`; an
 * aborted `signal` (a stopped start) ends the wait at once and sends SIGKILL
 * (still only to that process).
 *
 * @param ownerSessionId - the session the resource is recorded in (the dead one being reaped)
 */
export async function reapProcess(
  resource: ResourceRecord,
  graceMs: number,
  signal?: AbortSignal,
  ownerSessionId?: string,
): Promise<CleanupAction> {
  const base = { kind: resource.kind, id: resource.id };
  const pid = resource.pid;
  if (pid === undefined) return { ...base, outcome: 'released', detail: 'no pid recorded' };
  const now = readProcessStartTime(pid);
  if (now === null) return { ...base, outcome: 'gone' };
  if (!resource.processStartTime) return { ...base, outcome: 'skipped-unverifiable', detail: `pid ${pid}` };
  if (now !== resource.processStartTime) {
    return { ...base, outcome: 'skipped-pid-reused', detail: `pid ${pid} now belongs to another process` };
  }
  if (ownerSessionId !== undefined) {
    const notOurs = notStartedBy(pid, ownerSessionId);
    if (notOurs !== null) return { ...base, outcome: 'skipped-not-ours', detail: notOurs };
  }
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && !signal?.aborted) {
    if (readProcessStartTime(pid) !== resource.processStartTime)
      return { ...base, outcome: 'killed', detail: `pid ${pid} SIGTERM` };
    await sleep(25);
  }
  if (readProcessStartTime(pid) === resource.processStartTime) signalGroup(pid, 'SIGKILL');
  const waited = signal?.aborted ? 'at once (start aborted)' : `after ${graceMs} ms`;
  return { ...base, outcome: 'killed', detail: `pid ${pid} SIGKILL ${waited}` };
}

/** Why `pid` was not started by session `sessionId`, or null when its environment says it was. */
function notStartedBy(pid: number, sessionId: string): string | null {
  const found = readProcessSessionId(pid);
  switch (found.kind) {
    case 'found':
      return found.sessionId === sessionId
        ? null
        : `pid ${pid} belongs to session ${JSON.stringify(found.sessionId)}, not to ${sessionId}: not killed`;
    case 'absent':
      return `pid ${pid} carries no ${SESSION_ID_ENV} in its environment: not started by session ${sessionId}, not killed`;
    case 'gone':
      return null; // exited meanwhile: the signal finds nothing
    default:
      return `cannot read ${found.reason}: not verified, not killed`;
  }
}

/** Cleans up one resource by kind: processes by verified kill, kinds with a cleanup command by running it. */
export async function cleanupResource(
  resource: ResourceRecord,
  cleanup: Readonly<Record<string, CleanupConfig>>,
  options: {
    graceMs: number;
    log: Logger;
    ownerHostname?: string | undefined;
    /** The session the resource is recorded in: a process must carry its id to be killed. */
    ownerSessionId?: string | undefined;
    signal?: AbortSignal | undefined;
    /** The fencing token of the take-over this cleanup runs under (etcd reaps), for `{token}` and the record. */
    token?: string | undefined;
  },
): Promise<CleanupAction> {
  let action: CleanupAction;
  const remote = options.ownerHostname !== undefined && options.ownerHostname !== hostname();
  if (resource.kind === 'process' && remote)
    action = {
      kind: resource.kind,
      id: resource.id,
      outcome: 'skipped-other-host',
      detail: `pid ${resource.pid ?? '-'} on ${options.ownerHostname}`,
    };
  else if (resource.kind === 'process')
    action = await reapProcess(resource, options.graceMs, options.signal, options.ownerSessionId);
  else if (cleanup[resource.kind])
    action = await runCleanupCommand(
      resource,
      cleanup[resource.kind] as CleanupConfig,
      options.signal,
      options.token,
    );
  else action = { kind: resource.kind, id: resource.id, outcome: 'released' };
  if (options.token !== undefined && action.token === undefined) action = { ...action, token: options.token };
  const level = action.outcome === 'failed' || action.outcome === 'refused' ? 'error' : 'info';
  options.log[level]({ ...action }, `cleanup ${resource.kind} ${resource.id}: ${action.outcome}`);
  return action;
}

/** A cleanup action taken for a resource of a stale session. */
export interface ReapAction extends CleanupAction {
  /** The stale session that owned the resource. */
  readonly sessionId: string;
}

/** What {@link reapAndCleanUp} did. */
export interface ReapReport {
  /** How many dead sessions were removed entirely (everything they owned is gone). */
  readonly removed: number;
  /** The dead sessions taken over (removed, or put back with what is left). */
  readonly sessions: readonly string[];
  /** One action per resource handed to a cleanup, plus one `refused` per resource never handed over. */
  readonly actions: readonly ReapAction[];
  /** Resources whose cleanup failed, now owned by this session so they are retried (never forgotten). */
  readonly adopted: readonly ReapAction[];
  /** Resources refused (unsafe id or zone): still recorded in their dead session, reported each time. */
  readonly refused?: readonly ReapAction[];
  /** Resources left recorded in their dead session for a later cleanup (not started because of `signal`). */
  readonly left?: readonly ReapAction[];
  /** Dead-looking sessions not reaped, with why (unknown liveness, another reaper holds it). */
  readonly skipped?: readonly { readonly sessionId: string; readonly reason: string }[];
}

/** The slice of a session manager that reaping needs (its store tells whether reaps are fenced). */
export type ReapingSession = Pick<GlobalSessionManager, 'reapDeadSessions'> & {
  readonly store?: SessionStore | undefined;
};

/** How many cleanups run at once. */
export const REAP_CONCURRENCY = 8;

/**
 * Reaps dead sessions through @core/session's take-over reaping: each dead
 * session is taken over by exactly one reaper, its orphaned processes are
 * stopped by verified kill and its VMs (and other kinds) get their cleanup
 * command, at most {@link REAP_CONCURRENCY} at once. A resource is removed
 * only after its cleanup succeeded; one whose cleanup failed is adopted by
 * this session in one write (`metadata.adoptedFrom`): it shows in `status`,
 * this session's shutdown retries it, and if this process dies first, its own
 * session is reaped later. Unsafe ids/zones are refused, never run. If this
 * process is killed mid-way, everything stays reapable.
 *
 * Through the etcd registry every take-over has a fencing token: each cleanup
 * is wrapped with the store's fencing (it first checks the take-over still
 * holds the session, so a reaper that was paused and superseded stops before
 * its next step), gets the token as `{token}`, and records it in its action.
 * A failed cleanup is then left in the dead session's record (not adopted):
 * a superseded reaper must not take over what the current one holds, and the
 * next reap retries it under a new token.
 */
export async function reapAndCleanUp(
  session: ReapingSession,
  cleanup: Readonly<Record<string, CleanupConfig>>,
  options: {
    graceMs: number;
    log: Logger;
    signal?: AbortSignal | undefined;
    concurrency?: number | undefined;
  },
): Promise<ReapReport> {
  const actions: ReapAction[] = [];
  const byResource = new Map<string, ReapAction>();
  const announced = new Set<string>();
  const key = (sessionId: string, r: ResourceRecord) => `${sessionId}\0${r.kind}\0${r.id}`;
  const cleanupOne = async (resource: ResourceRecord, owner: SessionRecord, token?: string) => {
    // One progress line per dead session, when its first cleanup starts (a VM delete can take a minute).
    if (!announced.has(owner.sessionId)) {
      announced.add(owner.sessionId);
      options.log.info(
        {
          sessionId: owner.sessionId,
          sessionPid: owner.pid,
          resources: owner.resources.length,
          ...(token === undefined ? {} : { token }),
        },
        'reaping stale session',
      );
    }
    const action: ReapAction = {
      ...(await cleanupResource(resource, cleanup, {
        ...options,
        ownerHostname: owner.hostname,
        ownerSessionId: owner.sessionId,
        token,
      })),
      sessionId: owner.sessionId,
    };
    actions.push(action);
    byResource.set(key(owner.sessionId, resource), action);
    const ok = action.outcome !== 'failed' && action.outcome !== 'refused';
    return { ok, detail: action.detail ?? action.outcome };
  };
  const fencing = cleanupFencingOf(session.store);
  const report = await session.reapDeadSessions({
    concurrency: options.concurrency ?? REAP_CONCURRENCY,
    signal: options.signal,
    ...(fencing === undefined
      ? { cleanup: (resource: ResourceRecord, owner: SessionRecord) => cleanupOne(resource, owner) }
      : {
          adopt: false,
          cleanup: fencing((resource, owner, fence) => cleanupOne(resource, owner, fence.token)),
        }),
  });
  const toAction = (
    item: { sessionId: string; resource: ResourceRecord; detail?: string | undefined },
    outcome: CleanupOutcome,
  ): ReapAction =>
    byResource.get(key(item.sessionId, item.resource)) ?? {
      kind: item.resource.kind,
      id: item.resource.id,
      outcome,
      sessionId: item.sessionId,
      ...(item.detail === undefined ? {} : { detail: item.detail }),
    };
  const refused = report.refused.map((item) => toAction(item, 'refused'));
  for (const action of refused)
    options.log.error(
      { ...action },
      `cleanup ${action.kind} of ${action.sessionId}: refused (${action.detail})`,
    );
  const adopted = report.adopted.map((item) => toAction(item, 'failed'));
  for (const a of adopted)
    options.log.warn({ kind: a.kind, id: a.id }, `adopted ${a.kind} ${a.id}: its cleanup will be retried`);
  for (const s of report.sessions) options.log.info({ sessionId: s }, 'reaped dead session');
  return {
    removed: report.removed.length,
    sessions: report.sessions,
    actions: [...actions, ...refused],
    adopted,
    refused,
    left: report.left.filter((l) => !report.adopted.includes(l)).map((item) => toAction(item, 'failed')),
    skipped: report.skipped,
  };
}
