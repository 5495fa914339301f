import { getSessionManager } from '@core/session';
import type { CommandOptions, LazyLogger } from '../commands.js';
import { loadConfigWithSource } from '../config.js';
import { reapAndCleanUp } from '../reaper.js';
import { createSessionStore } from '../session-store.js';
import { print, printable } from './output.js';
import { defaultSessionDir, earlierSessionDirs } from './sessions-source.js';

/**
 * `system-manager sessions cleanup`: reaps stale sessions (orphans killed
 * after a pid + start-time check, VM cleanup commands run). It runs inside a
 * session of its own: a resource whose cleanup fails is adopted, not lost —
 * or, through the etcd registry, left in the dead session's record for the
 * next reap (each action then carries the take-over's fencing `token`).
 * Exit 1 when any resource was not cleaned up.
 */
export async function sessionsCleanupCommand(options: CommandOptions, lazyLog: LazyLogger): Promise<number> {
  const log = lazyLog.get();
  const { config } = loadConfigWithSource({ flag: options.config, log });
  const store = createSessionStore(config, process.env, log);
  let report: Awaited<ReturnType<typeof reapAndCleanUp>>;
  try {
    const session = getSessionManager(
      store ? { store } : { importFrom: earlierSessionDirs(defaultSessionDir()) },
    );
    if (store && !store.settled) {
      // A lease store that just connected cannot yet tell an expired lease from
      // one its owner is about to renew: wait one TTL (Ctrl-C stops the wait),
      // so other hosts' sessions are judged, not skipped. This host's are
      // judged by pid and start time at once either way.
      log.info(
        { leaseTtlMs: store.leaseTtlMs },
        "waiting one lease TTL before judging other hosts' sessions",
      );
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      try {
        await store.whenSettled(abort.signal);
      } finally {
        process.off('SIGINT', onSignal);
      }
    }
    report = await reapAndCleanUp(session, config.cleanup, { graceMs: config.shutdown.graceMs, log });
  } finally {
    await store?.close();
  }
  const { removed, actions, adopted } = report;
  const left = report.left ?? [];
  const notCleaned = adopted.length + left.length;
  if (options.json) print(JSON.stringify(report));
  else {
    print(`removed ${removed} stale session${removed === 1 ? '' : 's'}`);
    for (const a of [...actions, ...left.filter((l) => !actions.includes(l))]) {
      const token = a.token === undefined ? '' : ` [fencing token ${printable(a.token)}]`;
      print(
        `  ${printable(a.kind)} ${printable(a.id)}: ${a.outcome}${token}${a.detail ? ` (${printable(a.detail)})` : ''}`,
      );
    }
    if (notCleaned > 0)
      print(
        `${notCleaned} resource${notCleaned === 1 ? '' : 's'} could not be cleaned up; kept in the registry for the next cleanup`,
      );
  }
  return notCleaned > 0 ? 1 : 0;
}
