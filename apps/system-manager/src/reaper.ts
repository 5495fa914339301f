import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import {
  type ResourceInput,
  type ResourceRecord,
  readProcessStartTime,
  type SessionRecord,
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
  | 'deleted' // cleanup command exited 0
  | 'already-gone' // cleanup command said "not found"
  | 'released' // nothing to do (e.g. a port reservation)
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

/** Substitutes `{id}`, `{zone}`, `{kind}` and `{metadata.<key>}` in a command template. */
export function renderCommand(template: readonly string[], resource: ResourceRecord): string[] {
  return template.map((part) =>
    part.replace(/\{(id|zone|kind|metadata\.[A-Za-z0-9_]+)\}/g, (_, key: string) => {
      if (key === 'id') return resource.id;
      if (key === 'zone') return resource.zone ?? '';
      if (key === 'kind') return resource.kind;
      const value = resource.metadata?.[key.slice('metadata.'.length)];
      return value === undefined ? '' : String(value);
    }),
  );
}

/**
 * Stops an orphaned child process of a dead session — only after proving it
 * is the process that session started (same pid AND same start time).
 */
export async function reapProcess(resource: ResourceRecord, graceMs: number): Promise<CleanupAction> {
  const base = { kind: resource.kind, id: resource.id };
  const pid = resource.pid;
  if (pid === undefined) return { ...base, outcome: 'released', detail: 'no pid recorded' };
  const now = readProcessStartTime(pid);
  if (now === null) return { ...base, outcome: 'gone' };
  if (!resource.processStartTime) return { ...base, outcome: 'skipped-unverifiable', detail: `pid ${pid}` };
  if (now !== resource.processStartTime) {
    return { ...base, outcome: 'skipped-pid-reused', detail: `pid ${pid} now belongs to another process` };
  }
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (readProcessStartTime(pid) !== resource.processStartTime)
      return { ...base, outcome: 'killed', detail: `pid ${pid} SIGTERM` };
    await sleep(25);
  }
  if (readProcessStartTime(pid) === resource.processStartTime) signalGroup(pid, 'SIGKILL');
  return { ...base, outcome: 'killed', detail: `pid ${pid} SIGKILL after ${graceMs} ms` };
}

/** Runs the configured cleanup command of a resource kind (e.g. a VM delete); "not found" counts as done. */
export function runCleanupCommand(resource: ResourceRecord, cleanup: CleanupConfig): Promise<CleanupAction> {
  const [command, ...args] = renderCommand(cleanup.command, resource);
  const base = { kind: resource.kind, id: resource.id };
  return new Promise((resolve) => {
    execFile(
      command as string,
      args,
      { timeout: cleanup.timeoutMs, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ ...base, outcome: 'deleted' });
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
  options: { graceMs: number; log: Logger; ownerHostname?: string | undefined },
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
  else if (resource.kind === 'process') action = await reapProcess(resource, options.graceMs);
  else if (cleanup[resource.kind])
    action = await runCleanupCommand(resource, cleanup[resource.kind] as CleanupConfig);
  else action = { kind: resource.kind, id: resource.id, outcome: 'released' };
  const level = action.outcome === 'failed' ? 'error' : 'info';
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
  /** How many stale sessions were removed from the registry. */
  readonly removed: number;
  /** Their ids. */
  readonly sessions: readonly string[];
  /** One action per resource they owned. */
  readonly actions: readonly ReapAction[];
  /** Resources whose cleanup failed, now owned by this session so they are retried (never forgotten). */
  readonly adopted: readonly ReapAction[];
}

/** The slice of a session manager that reaping needs. */
export interface ReapingSession {
  reapStaleSessions(): Promise<{ removed: number; reapable: readonly SessionRecord[] }>;
  registerResource(input: ResourceInput): Promise<unknown>;
}

/**
 * Removes stale sessions and cleans up everything they owned: orphaned
 * processes by verified kill, VMs (and other kinds) by their cleanup command.
 * A resource whose cleanup failed may still exist, so it is not dropped with
 * its dead session: this session adopts it (`metadata.adoptedFrom`). It then
 * shows in `status`, this session's shutdown retries it, and if this process
 * ends first, its own session turns stale and the next cleanup retries it.
 */
export async function reapAndCleanUp(
  session: ReapingSession,
  cleanup: Readonly<Record<string, CleanupConfig>>,
  options: { graceMs: number; log: Logger },
): Promise<ReapReport> {
  const { removed, reapable } = await session.reapStaleSessions();
  const actions: ReapAction[] = [];
  const adopted: ReapAction[] = [];
  for (const stale of reapable) {
    options.log.info(
      { sessionId: stale.sessionId, sessionPid: stale.pid, resources: stale.resources.length },
      'reaping stale session',
    );
    for (const resource of stale.resources) {
      const action = {
        ...(await cleanupResource(resource, cleanup, { ...options, ownerHostname: stale.hostname })),
        sessionId: stale.sessionId,
      };
      actions.push(action);
      if (action.outcome !== 'failed') continue;
      const { registeredAt: _registeredAt, ...input } = resource;
      await session.registerResource({
        ...input,
        metadata: {
          ...resource.metadata,
          adoptedFrom: stale.sessionId,
          lastCleanupError: action.detail ?? 'failed',
        },
      });
      adopted.push(action);
      options.log.warn(
        { kind: resource.kind, id: resource.id },
        `adopted ${resource.kind} ${resource.id}: its cleanup will be retried`,
      );
    }
  }
  return { removed, sessions: reapable.map((s) => s.sessionId), actions, adopted };
}
