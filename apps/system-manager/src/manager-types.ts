import type { SystemManagerConfigInput } from './config.js';
import type { Logger } from './logger.js';
import type { CleanupAction } from './reaper.js';
import type { ServiceStatus } from './supervisor/service.js';

/** Options of `AsyncSystemManager`. */
export interface AsyncSystemManagerOptions {
  /** A config object, or the path of a JSON config file. Default: the built-in config. */
  readonly config?: SystemManagerConfigInput | string | undefined;
  /** Environment read for port overrides and `CORE_SESSION_REDIS_URL` (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Logger (default: pino to stderr). */
  readonly logger?: Logger | undefined;
  /** Session directory (default: `CORE_SESSION_DIR` or the per-user temp folder). */
  readonly sessionDir?: string | undefined;
  /** Called when a service exhausted its restarts (`failed`); the `start` command exits non-zero on it when configured. */
  readonly onServiceFailed?: ((service: string, reason: string) => void) | undefined;
  /**
   * Directory of the control socket (`<dir>/<session id>.sock`), or `false`
   * for none. Default: `$SYSTEM_MANAGER_RUNTIME_DIR`, `$RUNTIME_DIRECTORY`,
   * `$XDG_RUNTIME_DIR/system-manager`, else `/run/system-manager` (root) or
   * `<tmpdir>/system-manager-<uid>`.
   */
  readonly controlSocketDir?: string | false | undefined;
}

/** Options of `AsyncSystemManager.start`. */
export interface StartOptions {
  /** Aborts whichever start phase is running (reaping, ports, spawning, health waits) at once; `start` then stops what it started and rejects. */
  readonly signal?: AbortSignal | undefined;
  /** Called as each start phase begins (e.g. for systemd's STATUS=). */
  readonly onPhase?: ((phase: string) => void) | undefined;
}

/** What `start()` did. */
export interface StartReport {
  readonly sessionId: string;
  readonly reaped: readonly CleanupAction[];
  readonly ports: Readonly<Record<string, number>>;
  readonly services: readonly ServiceStatus[];
  readonly controlPort: number;
  /** Path of the control socket (restart, stop, start, signal, reload, describe, logs), or null without one. */
  readonly controlSocket: string | null;
  readonly elapsedMs: number;
}

/** What `stop()` did. */
export interface StopReport {
  readonly stoppedServices: readonly string[];
  readonly cleanup: readonly CleanupAction[];
}
