import { getSessionManager, isSessionManagerAvailable } from '@core/session';

/** A port reservation as recorded in the session registry (a @core/session `ResourceInput` of kind `port`). */
export interface PortResource {
  /** Always `port`. */
  readonly kind: 'port';
  /** `host:port`, e.g. `127.0.0.1:8010`. */
  readonly id: string;
  /** The name the port was chosen for. */
  readonly metadata: { readonly name: string; readonly host: string; readonly port: number };
}

/**
 * Chooses ports (a @core/session `ClaimChooser` that returns port resources):
 * `takenByOthers` holds the ids reserved by other live sessions. It may run
 * more than once, and at the same time as other processes' choosers.
 */
export type PortClaimChooser = (takenByOthers: ReadonlySet<string>) => Promise<readonly PortResource[]>;

/**
 * The part of a @core/session manager that port reservation uses. The
 * process singleton (`getSessionManager()`) fits; tests and other hosts may
 * inject any object with these two methods.
 */
export interface PortReservationSession {
  /**
   * Runs `chooser` with the ids of `kind` owned by other live sessions and
   * claims what it returns for this session, each id exclusively: when another
   * session won one of them meanwhile, it runs `chooser` again.
   */
  claimResources(kind: 'port', chooser: PortClaimChooser): Promise<unknown>;
  /** Drops one resource of this session (here: a port reservation a name has moved away from). */
  unregisterResource(kind: 'port', id: string): Promise<unknown>;
}

/**
 * The process-wide session manager when one already exists, else `null`.
 * Never creates one: reserving ports is no reason to start a session.
 */
export function availableProcessSession(): PortReservationSession | null {
  return isSessionManagerAvailable() ? getSessionManager() : null;
}
