import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import {
  type GlobalSessionManager,
  type ResourceRecord,
  readProcessSessionId,
  readProcessStartTime,
  SESSION_ID_ENV,
  type SessionRecord,
  unsafeCommandValue,
} from '@core/session';
import type { CleanupConfig } from './config.js';
import type { Logger } from './logger.js';
import { signalGroup } from './services.js';

/** What happened to one resource during cleanup. */
export type CleanupOutcome =
  | 'killed' // a process we verified by start time and stopped
  | 'gone' // the process had already exited
  | 'skipped-pid-reused' // the pid now belongs to another process: never killed
  | 'skipped-unverifiable' // no start time was recorded: identity cannot be proven, so not killed
  | 'skipped-other-host' // a process of a session on another machine (fleet registry): its pid means nothing here
  | 'skipped-not-ours' // the process does not carry the dead session's id in its environment: never killed
  | 'deleted' // cleanup command exited 0
  | 'already-gone' // cleanup command said "not found"
  | 'released' // nothing to do (e.g. a port reservation)
  | 'refused' // a value for the command template is unsafe (leading "-", control characters): never run
  | 'failed'; // cleanup command failed: the resource may still exist

/** One cleanup action, for logs and `--json` output. */
export interface CleanupAction {
  readonly kind: string;
  readonly id: string;
  readonly outcome: CleanupOutcome;
  readonly detail?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A value read from the session store that would change a cleanup command's meaning. */
export class UnsafeCommandValueError extends Error {
  /** Stable code. */
  readonly code = 'E_CLEANUP_VALUE_UNSAFE';
  /** The placeholder (`id`, `zone`, `metadata.project`, …). */
  readonly placeholder: string;

  /**
   * @param placeholder - the template placeholder
   * @param problem - what is wrong with its value
   */
  constructor(placeholder: string, problem: string) {
    super(`refused to run the cleanup command: {${placeholder}} = ${problem}`);
    this.name = 'UnsafeCommandValueError';
    this.placeholder = placeholder;
  }
}

/**
 * Substitutes `{id}`, `{zone}`, `{kind}` and `{metadata.<key>}` in a command
 * template. Values come from session records, i.e. from untrusted files or a
 * shared store: a value starting with `-` (it would become an option, e.g.
 * `{id}` = `--project=other`) or containing control characters is refused.
 *
 * @throws UnsafeCommandValueError naming the placeholder.
 */
export function renderCommand(template: readonly string[], resource: ResourceRecord): string[] {
  return template.map((part) =>
    part.replace(/\{(id|zone|kind|metadata\.[A-Za-z0-9_]+)\}/g, (_, key: string) => {
      let value: string;
      if (key === 'id') value = resource.id;
      else if (key === 'zone') value = resource.zone ?? '';
      else if (key === 'kind') value = resource.kind;
      else {
        const raw = resource.metadata?.[key.slice('metadata.'.length)];
        value = raw === undefined ? '' : String(raw);
      }
      const problem = unsafeCommandValue(value);
      if (problem !== null) throw new UnsafeCommandValueError(key, problem);
      return value;
    }),
  );
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

/**
 * Runs the configured cleanup command of a resource kind (e.g. a VM delete); "not found" counts as done.
 * `signal` (an aborted start) stops a running command with SIGTERM: it then counts as failed, so the
 * resource stays recorded (adopted or left in its session) and a later cleanup runs it again.
 */
export function runCleanupCommand(
  resource: ResourceRecord,
  cleanup: CleanupConfig,
  signal?: AbortSignal,
): Promise<CleanupAction> {
  const base = { kind: resource.kind, id: resource.id };
  let rendered: string[];
  try {
    rendered = renderCommand(cleanup.command, resource);
  } catch (error) {
    if (error instanceof UnsafeCommandValueError)
      return Promise.resolve({ ...base, outcome: 'refused', detail: error.message });
    throw error;
  }
  const [command, ...args] = rendered;
  return new Promise((resolve) => {
    execFile(
      command as string,
      args,
      { timeout: cleanup.timeoutMs, encoding: 'utf8', ...(signal ? { signal } : {}) },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ ...base, outcome: 'deleted' });
        if (error.name === 'AbortError')
          return resolve({
            ...base,
            outcome: 'failed',
            detail:
              'aborted: the cleanup command was stopped; the resource stays recorded for a later cleanup',
          });
        if (new RegExp(cleanup.notFoundPattern, 'i').test(output))
          return resolve({ ...base, outcome: 'already-gone' });
        const reason =
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? `command not found: ${command}`
            : output.slice(-500) || error.message;
        resolve({ ...base, outcome: 'failed', detail: reason });
      },
    );
  });
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
    action = await runCleanupCommand(resource, cleanup[resource.kind] as CleanupConfig, options.signal);
  else action = { kind: resource.kind, id: resource.id, outcome: 'released' };
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

/** The slice of a session manager that reaping needs. */
export type ReapingSession = Pick<GlobalSessionManager, 'reapDeadSessions'>;

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
  const report = await session.reapDeadSessions({
    concurrency: options.concurrency ?? REAP_CONCURRENCY,
    signal: options.signal,
    cleanup: async (resource: ResourceRecord, owner: SessionRecord) => {
      // One progress line per dead session, when its first cleanup starts (a VM delete can take a minute).
      if (!announced.has(owner.sessionId)) {
        announced.add(owner.sessionId);
        options.log.info(
          { sessionId: owner.sessionId, sessionPid: owner.pid, resources: owner.resources.length },
          'reaping stale session',
        );
      }
      const action: ReapAction = {
        ...(await cleanupResource(resource, cleanup, {
          ...options,
          ownerHostname: owner.hostname,
          ownerSessionId: owner.sessionId,
        })),
        sessionId: owner.sessionId,
      };
      actions.push(action);
      byResource.set(key(owner.sessionId, resource), action);
      const ok = action.outcome !== 'failed' && action.outcome !== 'refused';
      return { ok, detail: action.detail ?? action.outcome };
    },
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
