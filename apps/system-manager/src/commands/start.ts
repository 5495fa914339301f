import tty from 'node:tty';
import type { CommandOptions } from '../commands.js';
import { loadConfig } from '../config.js';
import { SystemManagerError } from '../errors.js';
import type { Logger } from '../logger.js';
import { AsyncSystemManager } from '../manager.js';
import { createNotifier } from '../notify.js';

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
 * progress at once), exit 0; SIGHUP reloads the config (or stops, when
 * attached to a terminal); a `failed` service exits `supervision.failedExitCode`
 * when `supervision.onServiceFailed` is "exit". A second signal exits 1 at once.
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
  const shutdown = (why: Record<string, unknown>, message: string) => {
    if (stopping) return;
    signalledAt = Date.now();
    log.info(why, message);
    notifier.stopping();
    aborter.abort(new SystemManagerError('E_ABORTED', `start aborted: ${message}`));
    stopping = (manager?.stop() ?? Promise.resolve()).catch((error: unknown) =>
      log.error({ err: error }, 'shutdown failed'),
    );
    stopRequested();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1); // the exit handler still signals our services and unregisters synchronously
    }
    if (signal === 'SIGHUP' && !attachedToTerminal()) {
      void reload();
      return;
    }
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
