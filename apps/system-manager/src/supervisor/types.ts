import type { SystemManagerConfig } from '../config.js';
import type { LogDestination } from './log-destination.js';
import type { OutputTap } from './output-tap.js';
import type { ServiceExit } from './restart-policy.js';
import type { SupervisedService } from './service.js';
import type { ServiceLogStatus } from './service-output.js';

/** Lifecycle of a supervised service. */
export type ServiceState =
  | 'starting'
  | 'healthy'
  | 'unhealthy'
  | 'backoff'
  | 'failed'
  | 'stopping'
  | 'stopped'
  | 'exited';

/** What `/status` shows of a service. */
export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  /** Result of the latest health check: `unknown` before the first one and while it is down. */
  readonly health: 'ok' | 'failing' | 'unknown';
  readonly pid: number | null;
  readonly port: number;
  readonly portName: string;
  /** When the current process was spawned (epoch ms), or null while none runs. */
  readonly startedAt: number | null;
  /** How many times the supervisor restarted it. */
  readonly restarts: number;
  readonly lastExit: ServiceExit | null;
  /** IPC messages refused by validation. */
  readonly badMessages: number;
  /** Failed health checks while it was running, in total. */
  readonly healthCheckFailures: number;
  /** Spawns that failed for want of descriptors or processes (EMFILE, ENFILE, EAGAIN), retried and not counted as restarts. */
  readonly spawnResourceErrors: number;
  /** Who stopped it and when (epoch ms), while an operator holds it stopped; null otherwise. */
  readonly stoppedBy: { readonly user: string; readonly pid: number | null; readonly at: number } | null;
  /** Where its stdout/stderr go, and what was written (file), forwarded, dropped or truncated (manager). */
  readonly logs: ServiceLogStatus;
  /** @deprecated Use `lastExit.code`. */
  readonly exitCode: number | null;
  /** @deprecated Use `lastExit.signal`. */
  readonly signal: string | null;
}

/** The identity of one spawned process, as registered in the session. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly processStartTime: string | null;
}

/** What a supervised service asks of the manager. */
export interface SupervisorHooks {
  /** A process was spawned (a restart passes the one it replaces): register it in the session. Must not throw. */
  readonly onSpawned: (service: SupervisedService, replaced: ProcessIdentity | null) => Promise<void>;
  /** A raw IPC message (untrusted). Must not throw. */
  readonly onMessage: (service: SupervisedService, message: unknown) => void;
  /** An operator stopped it (its process is gone): drop the process record. Must not throw. */
  readonly onHeld: (service: SupervisedService) => Promise<void>;
  /** The service exhausted its restarts. */
  readonly onFailed: (service: SupervisedService, reason: string) => void;
}

/** Settings shared by every service of a manager. */
export type SupervisorSettings = Pick<SystemManagerConfig, 'logs' | 'intervals'> & {
  readonly graceMs: number;
  /** Resolved once at start from `logs` and the environment. */
  readonly logDestination: LogDestination;
  /** Where `logs -f` followers listen. */
  readonly tap: OutputTap;
};
