// The parts of @core/session's contract this suite drives, declared here:
// private tooling takes no dependency on a released package (see
// scripts/check-graph.mjs), so the caller hands over its session module and
// stores, and TypeScript checks them against these shapes structurally.

/** Who owns a record or a claim (`SessionOwner`). */
export interface Owner {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly hostId: string | null;
  readonly stableHostId?: string | undefined;
  readonly processStartTime: string | null;
  readonly createdAt: number;
}

/** One resource of a record (`ResourceRecord`). */
export interface Resource {
  readonly kind: string;
  readonly id: string;
  readonly registeredAt: number;
  readonly claimed?: boolean | undefined;
}

/** A session record (`SessionRecord`). */
export interface SessionRecordShape {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly hostId?: string | undefined;
  readonly processStartTime: string | null;
  readonly createdAt: number;
  readonly registeredAt: number;
  readonly status: 'active' | 'stale';
  readonly vmId: string | null;
  readonly zone: string | null;
  readonly components: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly resources: readonly Resource[];
}

/** Lease evidence (`LeaseEvidence`). */
export type Evidence = 'none' | 'held' | 'expired' | 'settling';

/** A stored session (`StoredSession`). */
export interface Stored {
  readonly record: SessionRecordShape;
  readonly lease: Evidence;
  readonly reaping?: { readonly by: Owner; readonly since: number; readonly lease: Evidence } | undefined;
  readonly version: string;
}

/** A reaper's hold (`ReapTakeover`). */
export interface Hold {
  readonly record: SessionRecordShape;
  save(record: SessionRecordShape): Promise<void>;
  finish(remaining: SessionRecordShape | null): Promise<void>;
}

/** What `claim` answers (`ClaimOutcome`). */
export type Outcome =
  | { readonly ok: true; readonly takenOverFrom?: Owner | undefined }
  | { readonly ok: false; readonly holder: Owner };

/** A store under test (`SessionStore`), the members this suite calls. */
export interface ContractStore {
  readonly location: string;
  attach(owner: Owner): void;
  readRecord(sessionId: string): Promise<Stored | null>;
  writeRecord(record: SessionRecordShape): Promise<void>;
  removeRecord(sessionId: string): Promise<boolean>;
  listSessions(): Promise<Stored[]>;
  listClaims(kind: string): Promise<{ readonly kind: string; readonly id: string; readonly holder: Owner }[]>;
  claim(request: {
    readonly kind: string;
    readonly id: string;
    readonly owner: Owner;
    readonly holderIsDead: (holder: Owner, lease: Evidence) => boolean;
  }): Promise<Outcome>;
  releaseClaim(kind: string, id: string, holderSessionId: string): Promise<boolean>;
  takeOver(target: Stored, reaper: Owner): Promise<Hold | null>;
  close?(): Promise<void>;
}

/** The session manager members this suite calls. */
export interface ContractManager {
  readonly sessionId: string;
  registerResource(input: { readonly kind: string; readonly id: string }): Promise<unknown>;
  unregisterSession(): Promise<boolean>;
  reapDeadSessions(options: {
    readonly cleanup: (
      resource: Resource,
      owner: SessionRecordShape,
    ) => Promise<{ ok: boolean; detail?: string }>;
    readonly adopt?: boolean;
  }): Promise<{
    readonly sessions: readonly string[];
    readonly removed: readonly string[];
    readonly cleaned: readonly { readonly sessionId: string; readonly resource: Resource }[];
    readonly skipped: readonly { readonly sessionId: string; readonly reason: string }[];
  }>;
}

/** What the suite needs of `@core/session` (pass `import * as session from '@core/session'`). */
export interface ContractSession<Store> {
  createSessionManager(options: { readonly store: Store; readonly dir: string }): ContractManager;
  readHostIdentity(): {
    readonly id: string;
    readonly hostname: string;
    readonly stableId?: string | null | undefined;
  };
}
