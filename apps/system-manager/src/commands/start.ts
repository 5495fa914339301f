import tty from 'node:tty';
import type { CommandOptions } from '../commands.js';
import { loadConfig } from '../config.js';
import { SystemManagerError } from '../errors.js';
import {
  type LauncherProcess,
  type LauncherWatch,
  launcherChain,
  parentIsPackageManager,
  startedByPackageScript,
  watchLauncher,
} from '../launcher-watch.js';
import type { Logger } from '../logger.js';
import { AsyncSystemManager } from '../manager.js';
import { createNotifier } from '../notify.js';

/**
 * Ctrl-C sends SIGINT to the terminal's whole foreground job, and pnpm/npm
 * forward the SIGINT they got to their script a moment later: one request
 * that reaches the manager twice. A repeat of the stop signal this soon after
 * the first is that copy, not a second request to exit at once: always for
 * SIGINT, for SIGTERM when the parent is the package manager (a `kill` of the
 * whole process group, `timeout`, systemd's control-group stop).
 */
const REPEATED_SIGNAL_MS = 1_000;

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Whether the manager runs attached to a terminal: SIGHUP then means the terminal closed. */
function attachedToTerminal(): boolean {
  return [0, 1, 2].some((fd) => tty.isatty(fd));
}

/**
 * After an aborted start everything of ours is stopped and unregistered, but
 * work the abort could only abandon (a cleanup command of the reaping phase)
 * may still hold the event loop. The exit must not wait for it beyond the
 * shutdown grace period: systemd would SIGKILL us then anyway.
 */
function exitWithinGrace(graceMs: number, since: number, code: number, log: Logger): void {
  const timer = setTimeout(
    () => {
      log.warn(
        { graceMs },
        'work abandoned by the aborted start still runs: exiting at the end of the grace period',
      );
      process.exit(code);
    },
    Math.max(0, graceMs - (Date.now() - since)),
  );
  timer.unref();
}

/**
 * `system-manager start`: starts the services and the control endpoint, then
 * supervises them until a signal. SIGINT/SIGTERM stop (aborting a start in
 * progress at once), exit 0 when the stop was clean, 1 when it was not (the
 * stop failed, or a resource's cleanup failed); SIGHUP reloads the config (or
 * stops, when attached to a terminal); a `failed` service exits
 * `supervision.failedExitCode` when `supervision.onServiceFailed` is "exit".
 * A second signal exits 1 at once (but a copy of the first within
 * {@link REPEATED_SIGNAL_MS}, forwarded by pnpm/npm, is the same request).
 * Started through a package script, the manager also stops, as on SIGTERM,
 * when its launcher is gone.
 */
export async function startCommand(options: CommandOptions, log: Logger): Promise<number> {
  const notifier = createNotifier(process.env, log);
  const aborter = new AbortController();
  let exitCode = 0;
  let stopping: Promise<unknown> | undefined;
  let stopRequested!: () => void;
  const stopWanted = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  let manager: AsyncSystemManager | undefined;

  let signalledAt = Date.now();
  let stopSignal: NodeJS.Signals | undefined;
  let launcherWatch: LauncherWatch | undefined;
  // Read once, at the first repeat: whether our parent forwards what it gets (see REPEATED_SIGNAL_MS).
  let parentForwards: boolean | undefined;
  const forwardedCopies = (signal: NodeJS.Signals) => {
    if (signal === 'SIGINT') return true;
    if (signal !== 'SIGTERM') return false;
    parentForwards ??= parentIsPackageManager(process.env);
    return parentForwards;
  };
  // A stop that did not complete is a failure, whatever asked for it: systemd's Restart=on-failure
  // and a package manager's exit status must see it.
  const unclean = () => {
    if (exitCode === 0) exitCode = 1;
  };
  const shutdown = (why: Record<string, unknown>, message: string) => {
    if (stopping) return;
    signalledAt = Date.now();
    launcherWatch?.stop();
    log.info(why, message);
    notifier.stopping();
    aborter.abort(new SystemManagerError('E_ABORTED', `start aborted: ${message}`));
    stopping = (manager?.stop() ?? Promise.resolve(undefined)).then(
      (report) => {
        const failed = report?.cleanup.filter((action) => action.outcome === 'failed') ?? [];
        if (failed.length > 0) unclean();
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        unclean();
      },
    );
    stopRequested();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === stopSignal && Date.now() - signalledAt < REPEATED_SIGNAL_MS && forwardedCopies(signal)) {
        log.debug({ signal }, 'the stop signal again (forwarded by the launcher): already stopping');
        return;
      }
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1); // the exit handler still signals our services and unregisters synchronously
    }
    if (signal === 'SIGHUP' && !attachedToTerminal()) {
      void reload();
      return;
    }
    stopSignal = signal;
    shutdown({ signal }, 'shutting down');
  };
  const reload = async () => {
    const state = manager?.status().state ?? 'starting';
    if (manager === undefined || state !== 'running') {
      // During start the config just read is the one starting; during shutdown there is nothing to reload.
      log.warn({ state }, `SIGHUP ignored: the manager is ${state}`);
      return;
    }
    notifier.reloading();
    log.info({ config: options.config ?? '(built-in default)' }, 'SIGHUP: reloading the config');
    try {
      const report = await manager.reload(loadConfig(options.config));
      log.info({ ...report }, 'config reloaded');
    } catch (error) {
      const details = error instanceof SystemManagerError ? error.details : [];
      log.error({ err: (error as Error).message, details }, 'reload refused: the running config stays');
    } finally {
      if (!stopping) notifier.ready();
    }
  };

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  launcherWatch = watchTheLauncher(log, (launcher) =>
    shutdown(
      { launcher },
      `the process that launched this manager (pid ${launcher.pid}) is gone: shutting down as on SIGTERM`,
    ),
  );
  try {
    manager = new AsyncSystemManager({
      config: options.config,
      logger: log,
      onServiceFailed: (service, reason) => {
        const { onServiceFailed, failedExitCode } = manager?.config.supervision ?? {
          onServiceFailed: 'exit',
          failedExitCode: 70,
        };
        if (onServiceFailed !== 'exit') return;
        exitCode = failedExitCode;
        shutdown(
          { service, reason, exitCode },
          `service ${service} failed: stopping everything (exit ${exitCode})`,
        );
      },
    });
    let report: Awaited<ReturnType<AsyncSystemManager['start']>>;
    try {
      report = await manager.start({ signal: aborter.signal, onPhase: (phase) => notifier.status(phase) });
    } catch (error) {
      // Aborted by a signal: a clean stop, not a failure.
      if (aborter.signal.aborted) {
        await stopping;
        exitWithinGrace(manager.config.shutdown.graceMs, signalledAt, exitCode, log);
        return exitCode;
      }
      throw error;
    }
    notifier.status('running');
    notifier.ready();
    if (options.json) print(JSON.stringify(report));
    // Run until a signal (or a failed service) asks us to stop.
    await stopWanted;
    await stopping;
    return exitCode;
  } finally {
    // STOPPING=1 (and any STATUS) must reach systemd before we exit.
    await notifier.flush();
    notifier.close();
    launcherWatch?.stop();
    // After a stop the process is about to exit: a late copy of the signal, forwarded by the
    // launcher, must still meet onSignal, not the default action that would end us by that signal.
    if (stopping === undefined) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    }
  }
}

/**
 * Started through a package script, watches the launcher chain (see
 * launcher-watch.ts); undefined when not started that way or when there is
 * nothing to watch (no /proc, parent is pid 1).
 */
function watchTheLauncher(
  log: Logger,
  onGone: (launcher: LauncherProcess) => void,
): LauncherWatch | undefined {
  if (!startedByPackageScript(process.env)) return undefined;
  const chain = launcherChain();
  if (chain.length === 0) return undefined;
  log.debug({ launcher: chain }, 'started through a package script: watching the launcher');
  return watchLauncher(chain, {
    onGone,
    onError: (error) => log.warn({ err: error }, 'watching the launcher failed: no longer watched'),
  });
}
