// Readiness notification for systemd `Type=notify` units (sd_notify(3)).
//
// Node has no AF_UNIX datagram socket, and the npm packages that add one are
// native addons (a compiler or a downloaded binary at install time). The
// `systemd-notify` binary ships with systemd itself, so wherever a
// $NOTIFY_SOCKET exists the binary does too. It runs as a child of the
// manager, so the unit needs `NotifyAccess=all`; since systemd 246 it waits
// for the manager to have read the message (BARRIER=1) before it exits, so a
// message is never lost to the race between its exit and the unit lookup.
import { execFile } from 'node:child_process';

/** Where notification errors go; pino loggers fit. */
export interface NotifierLogger {
  warn(obj: object, msg?: string): void;
}

/** Tells the service manager about this process's state. Every method is a no-op without $NOTIFY_SOCKET. */
export interface Notifier {
  /** `READY=1`: every service is up and healthy (also after a reload). */
  ready(): void;
  /** `STATUS=<text>`: a one-line progress text shown by `systemctl status`. */
  status(text: string): void;
  /** `RELOADING=1`: a reload began; follow with `ready()` when it is done. */
  reloading(): void;
  /** `STOPPING=1`: shutdown began. */
  stopping(): void;
  /** Stops the watchdog keep-alive. Messages already queued are still sent. */
  close(): void;
  /** Resolves once every message queued so far has been handed to the service manager (or failed). */
  flush(): Promise<void>;
  /** Whether notifications go anywhere ($NOTIFY_SOCKET was set). */
  readonly enabled: boolean;
}

/** Binary that sends the datagrams; overridable for tests through the env. */
const NOTIFY_BINARY_ENV = 'SYSTEM_MANAGER_NOTIFY_BINARY';
const SEND_TIMEOUT_MS = 5_000;

const stderrLogger: NotifierLogger = {
  warn(obj, msg) {
    process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), ...obj, msg })}\n`);
  },
};

/** Keep-alive interval: half of $WATCHDOG_USEC, when it is set for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  // systemd sets WATCHDOG_PID to the main pid; a child that inherited our env must not pet our watchdog.
  const watchdogPid = env['WATCHDOG_PID'];
  if (watchdogPid !== undefined && watchdogPid !== '' && Number(watchdogPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2_000));
}

/**
 * A notifier for $NOTIFY_SOCKET (a no-op without it). Sends `WATCHDOG=1` from
 * an unref'd timer at half of $WATCHDOG_USEC when set. Errors are logged,
 * never thrown: a failed notification must not stop the manager.
 */
export function createNotifier(
  env: NodeJS.ProcessEnv = process.env,
  log: NotifierLogger = stderrLogger,
): Notifier {
  const socket = env['NOTIFY_SOCKET'];
  if (socket === undefined || socket === '') {
    return {
      enabled: false,
      ready() {},
      status() {},
      reloading() {},
      stopping() {},
      close() {},
      flush: () => Promise.resolve(),
    };
  }
  const binary = env[NOTIFY_BINARY_ENV] || 'systemd-notify';
  // Messages are sent one after the other, so `STOPPING=1` never overtakes `READY=1`.
  let queue: Promise<void> = Promise.resolve();
  let warned = false;
  const send = (...assignments: string[]) => {
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          // Every argument starts with "NAME=", so none can be read as an option of systemd-notify.
          execFile(
            binary,
            assignments,
            { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: SEND_TIMEOUT_MS },
            (error, _stdout, stderr) => {
              if (error && !warned) {
                // One warning, not one per watchdog tick.
                warned = true;
                log.warn(
                  { err: error.message, stderr: String(stderr).trim(), binary, socket },
                  `cannot notify the service manager (${assignments.join(' ')}); is ${binary} installed?`,
                );
              }
              resolve();
            },
          );
        }),
    );
  };
  const interval = watchdogIntervalMs(env);
  let watchdog: NodeJS.Timeout | undefined;
  if (interval !== null) {
    watchdog = setInterval(() => send('WATCHDOG=1'), interval);
    watchdog.unref();
  }
  return {
    enabled: true,
    ready: () => send('READY=1', 'STATUS=all services healthy'),
    // A newline would start another assignment (e.g. a service name "x\nREADY=1"): keep STATUS one line.
    status: (text) => send(`STATUS=${text.replace(/[\r\n]+/g, ' ').slice(0, 400)}`),
    reloading: () => send('RELOADING=1', 'STATUS=reloading the config'),
    stopping: () => send('STOPPING=1', 'STATUS=stopping'),
    close: () => {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
    },
    flush: () => queue,
  };
}
