// The end of the ownership run: every worker is dead; a reaper of the test's
// own (another host than both simulated ones, so the lease alone decides)
// waits until every lease of the fleet ran out, reaps what is left with the
// same logged, fenced cleanup, and reports what is still recorded after.
// Its steps go to the history like a worker's, under worker id `drain`.
import { createSessionManager } from '@core/session';
import { until } from '../helpers.js';
import { OpLog } from './op-log.js';
import { LoggedStore, loggedCleanup, resourceName } from './reaper.js';

export interface DrainOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly cloud: string;
  /** Its history file and its session directory. */
  readonly log: string;
  readonly dir: string;
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
}

/** @returns the resources still recorded in some session's record afterwards */
export async function drain(options: DrainOptions): Promise<{ session: string; resource: string }[]> {
  const store = new LoggedStore({
    endpoints: [...options.endpoints],
    keyPrefix: options.prefix,
    leaseTtlMs: options.leaseTtlMs,
    heartbeatMs: options.heartbeatMs,
    settleMs: 0, // the cluster is healthy and every worker is dead: an absent lease is gone
  });
  try {
    const manager = createSessionManager({ dir: options.dir, store });
    const log = new OpLog(options.log, 'drain', manager.sessionId);
    store.log = log;
    log.life('start', { host: manager.hostname, pid: process.pid });
    await until(
      async () => (await store.listSessions()).every((s) => s.lease === 'expired' && s.reaping === undefined),
      'every lease and reaping mark of the fleet to run out',
      options.leaseTtlMs + 30_000,
    );
    const cleanup = loggedCleanup(log, options.cloud, () => 0);
    for (let round = 0; round < 5 && (await store.listSessions()).length > 0; round++)
      await manager.reapDeadSessions({ adopt: false, concurrency: 8, cleanup });
    return (await store.listSessions()).flatMap((s) =>
      s.record.resources.map((r) => ({
        session: s.record.sessionId,
        resource: resourceName(r, s.record.hostname),
      })),
    );
  } finally {
    await store.close();
  }
}
