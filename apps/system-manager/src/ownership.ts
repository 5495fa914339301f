import type { GlobalSessionManager, ResourceInput } from '@core/session';
import type { CleanupConfig } from './config.js';
import type { Logger } from './logger.js';
import { type CleanupAction, cleanupResource } from './reaper.js';
import type { StoreHealth } from './store-health.js';
import type { ProcessIdentity, SupervisedService } from './supervisor/service.js';
import { currentTerminal } from './terminal.js';

/** The session resource id of a service's current process: `<name>@<pid>`. */
export function serviceResourceId(name: string, pid: number): string {
  return `${name}@${pid}`;
}

/** The session resource of a service's running process (pid + start time: a reused pid is never taken for it). */
export function serviceResource(service: SupervisedService): ResourceInput | null {
  const identity = service.identity();
  if (identity === null) return null;
  return {
    kind: 'process',
    id: serviceResourceId(service.config.name, identity.pid),
    pid: identity.pid,
    ...(identity.processStartTime === null ? {} : { processStartTime: identity.processStartTime }),
    components: [service.config.name],
    metadata: {
      service: service.config.name,
      port: service.port,
      portName: service.config.port,
      // So `status --json`, which reads the registry, shows restarts without asking the manager.
      restarts: service.status().restarts,
      tty: currentTerminal(),
    },
  };
}

/**
 * Records a service's new process in the session. A restart replaces the
 * predecessor's record in the same write (`replaceResource`), so no reader
 * ever sees the new process unrecorded or the old one outliving it. A store
 * failure is recorded as the degraded state (validation re-registers later),
 * never thrown.
 */
export async function registerProcess(
  session: GlobalSessionManager | undefined,
  store: StoreHealth,
  service: SupervisedService,
  replaced: ProcessIdentity | null,
): Promise<void> {
  const resource = serviceResource(service);
  if (!session || !resource) return;
  if (replaced === null) {
    await store.attempt('register service', () => session.registerResource(resource));
    return;
  }
  const replacedId = serviceResourceId(service.config.name, replaced.pid);
  await store.attempt('register restarted service', () =>
    session.replaceResource('process', replacedId, resource),
  );
}

/** Drops the record of a service stopped for good (removed by a reload). Never throws. */
export async function forgetProcess(
  session: GlobalSessionManager | undefined,
  store: StoreHealth,
  service: SupervisedService,
): Promise<void> {
  const pid = service.process?.pid;
  if (!session || pid == null) return;
  const id = serviceResourceId(service.config.name, pid);
  await store.attempt('unregister stopped service', () => session.unregisterResource('process', id));
}

/**
 * At shutdown, after our services stopped: runs the cleanup command of every
 * other resource we own (VMs…), then unregisters the session — unless a
 * cleanup failed or was refused, or the store is down, when the session stays registered so a
 * later cleanup retries (never forgotten). After an aborted start the slow
 * cleanup commands are skipped (left registered) so the exit stays prompt.
 */
export async function releaseSession(
  session: GlobalSessionManager,
  store: StoreHealth,
  cleanup: Readonly<Record<string, CleanupConfig>>,
  options: { graceMs: number; log: Logger; aborted: boolean },
): Promise<CleanupAction[]> {
  const { graceMs, log, aborted } = options;
  const mine = await store.attempt('read own resources', () => session.getMyResources());
  // Our own processes were stopped by the caller; what remains (VMs…) gets its cleanup command.
  const remaining = (mine.ok ? mine.value : []).filter((r) => r.kind !== 'process' && r.kind !== 'port');
  const actions: CleanupAction[] = [];
  if (!aborted)
    for (const resource of remaining)
      actions.push(await cleanupResource(resource, cleanup, { graceMs, log }));
  // A refused command (an unsafe value, or `{token}` with no take-over to give one) did not clean
  // anything either: the session stays registered, so the resource is reaped later, never forgotten.
  const failed = actions.filter((a) => a.outcome === 'failed' || a.outcome === 'refused');
  if (aborted && remaining.length > 0)
    log.warn(
      { resources: remaining.map((r) => `${r.kind}:${r.id}`) },
      'start aborted: resources left registered; the next cleanup retries them',
    );
  else if (!mine.ok)
    log.error('the session store is unavailable: the session stays registered and is reaped as stale later');
  else if (failed.length === 0) await store.attempt('unregister session', () => session.unregisterSession());
  else
    log.error(
      { failed },
      'some resources could not be cleaned up; the session stays registered so a later cleanup retries',
    );
  return actions;
}
