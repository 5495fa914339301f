import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  ClaimOutcome,
  ClaimRequest,
  ReapTakeover,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStore,
  StoredClaim,
  StoredSession,
} from '../contract.js';
import { SessionDirUnsafeError, SessionError, SessionWriteError } from '../errors.js';
import { ensurePrivateDir, readPrivateFileSync, removeDeadTempFiles } from '../files.js';
import { readHostIdentity } from '../host.js';
import { claimSync, listClaimFiles, releaseClaimSync } from './claims.js';
import { importEarlierSessions } from './earlier-locations.js';
import { layoutOf, type StoreLayout } from './layout.js';
import { importLegacyRegistry } from './migration.js';
import {
  listRecordFiles,
  moveAside,
  parseRecordRead,
  type RecordWriterState,
  readRecordFile,
  readRecordFileSync,
  removeRecordFile,
  writeRecordFile,
} from './records.js';
import { takeOverSync } from './takeover.js';

/** Options of {@link FileSessionStore}. */
export interface FileSessionStoreOptions {
  /** Private directory (created 0700 with `sessions/` and `claims/`, refused when unsafe). */
  readonly dir: string;
  /** fsync data and directory on every write (default true). */
  readonly fsync?: boolean;
  /** Kinds whose ids are unique per host, not per directory (default `port`, `process`). */
  readonly hostScopedKinds?: readonly string[];
  /** Warnings; default silent. */
  readonly logger?: SessionLogger;
  /**
   * Create the directories (default true). `false` makes a read-only store:
   * nothing is created, a missing directory lists as empty (what `status` uses).
   */
  readonly create?: boolean;
  /**
   * Directories an earlier version used for this registry (a default under
   * the OS temp dir or `/run`, wiped at reboot). Sessions there that are not
   * live are moved into `dir` when a session attaches; the read-only
   * listing shows the rest. Default none.
   */
  readonly importFrom?: readonly string[];
}

/** The age limit the import judges owners by that cannot be verified here (they are moved, not reaped). */
const IMPORT_MAX_AGE_MS = 12 * 3_600_000;

const SILENT: SessionLogger = { warn() {} };

function mkdirPrivate(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  ensurePrivateDir(dir);
}

/**
 * The embedded store: one file per session under `sessions/`, one claim file
 * per unique resource under `claims/`, no shared lock. File I/O is
 * synchronous inside the async methods on purpose: a record is a few hundred
 * bytes, a thread-pool hop costs more than the write, and doing it in one
 * synchronous step means an exit-path (sync) write can never interleave with
 * an async one of the same thread.
 */
export class FileSessionStore implements SessionStore {
  /** The session directory. */
  readonly location: string;
  /**
   * Directory layout (the paths the file store's modules share).
   * @internal
   */
  readonly layout: StoreLayout;
  /** See {@link FileSessionStoreOptions.importFrom}. */
  readonly importFrom: readonly string[];
  private readonly fsync: boolean;
  private readonly logger: SessionLogger;
  private readonly hostScoped: ReadonlySet<string>;
  private readonly writer: RecordWriterState = { written: new Set() };
  private owner: SessionOwner | null = null;
  /** Record files the last listings found unreadable: `tidy` moves them aside (a listing never does). */
  private readonly corrupt = new Set<string>();

  /** @throws SessionDirUnsafeError when the directory (or a sub-directory) is unsafe. */
  constructor(options: FileSessionStoreOptions) {
    if (
      typeof options !== 'object' ||
      options === null ||
      typeof options.dir !== 'string' ||
      options.dir === ''
    )
      throw new TypeError('FileSessionStore: "dir" must be a non-empty path');
    this.location = resolve(options.dir);
    this.layout = layoutOf(this.location);
    this.fsync = options.fsync ?? true;
    this.logger = options.logger ?? SILENT;
    this.hostScoped = new Set(options.hostScopedKinds ?? ['port', 'process']);
    this.importFrom = (options.importFrom ?? [])
      .map((dir) => resolve(dir))
      .filter((dir) => dir !== this.location);
    if (options.create ?? true) {
      try {
        ensurePrivateDir(this.location);
        mkdirPrivate(this.layout.sessionsDir);
        mkdirPrivate(this.layout.claimsDir);
      } catch (error) {
        if (error instanceof SessionDirUnsafeError) throw error;
        // A full or read-only disk must not stop a manager from existing: writes fail later, clearly.
        this.logger.warn(
          { err: error, dir: this.location },
          `could not create the session directory ${this.location}: ${(error as Error).message}`,
        );
      }
    }
  }

  attach(owner: SessionOwner): void {
    this.owner = owner;
    try {
      importLegacyRegistry(this.layout, readHostIdentity(), (kind) => this.hostScoped.has(kind), this.logger);
    } catch (error) {
      this.logger.warn({ err: error }, `could not import the v1 registry: ${(error as Error).message}`);
    }
    try {
      importEarlierSessions(this.layout, this.importFrom, {
        host: readHostIdentity(),
        maxAgeMs: IMPORT_MAX_AGE_MS,
        logger: this.logger,
      });
    } catch (error) {
      this.logger.warn(
        { err: error },
        `could not import sessions from earlier locations: ${(error as Error).message}`,
      );
    }
  }

  resourceScope(kind: string): 'host' | 'fleet' {
    return this.hostScoped.has(kind) ? 'host' : 'fleet';
  }

  readRecord(sessionId: string): Promise<StoredSession | null> {
    return readRecordFile(this.layout, sessionId, this.logger);
  }

  readRecordSync(sessionId: string): StoredSession | null {
    return readRecordFileSync(this.layout, sessionId, this.logger);
  }

  async writeRecord(record: SessionRecord): Promise<void> {
    writeRecordFile(this.layout, this.writer, record, this.fsync);
  }

  writeRecordSync(record: SessionRecord): boolean {
    try {
      writeRecordFile(this.layout, this.writer, record, this.fsync);
      return true;
    } catch (error) {
      this.warn(error, `could not write the record of session ${record.sessionId}`);
      return false;
    }
  }

  async removeRecord(sessionId: string): Promise<boolean> {
    try {
      return removeRecordFile(this.layout, this.writer, sessionId, this.fsync);
    } catch (error) {
      throw asStoreError(error, join(this.layout.sessionsDir, `${sessionId}.json`));
    }
  }

  removeRecordSync(sessionId: string): boolean {
    try {
      removeRecordFile(this.layout, this.writer, sessionId, this.fsync);
      return true;
    } catch (error) {
      this.warn(error, `could not remove the record of session ${sessionId}`);
      return false;
    }
  }

  listSessions(): Promise<StoredSession[]> {
    return listRecordFiles(this.layout, this.logger, this.corrupt);
  }

  listClaims(kind: string): Promise<StoredClaim[]> {
    return listClaimFiles(this.claimContext(), kind);
  }

  async claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return claimSync(this.claimContext(), request, this.hostScoped.has(request.kind));
  }

  async releaseClaim(kind: string, id: string, holderSessionId: string): Promise<boolean> {
    return releaseClaimSync(
      this.claimContext(),
      kind,
      id,
      holderSessionId,
      this.claimHostIds(kind),
      this.releaser(),
    );
  }

  releaseClaimSync(kind: string, id: string, holderSessionId: string): boolean {
    try {
      releaseClaimSync(
        this.claimContext(),
        kind,
        id,
        holderSessionId,
        this.claimHostIds(kind),
        this.releaser(),
      );
      return true;
    } catch (error) {
      this.warn(error, `could not release the claim ${kind} ${id}`);
      return false;
    }
  }

  async takeOver(target: StoredSession, reaper: SessionOwner): Promise<ReapTakeover | null> {
    return takeOverSync(this.layout, target, reaper, this.logger);
  }

  /**
   * Moves record files that listings found corrupt aside (`*.corrupt-<ms>`,
   * kept for inspection) and removes temp files of writers that died
   * mid-write (pid gone, older than 10 s). Called by reaping; never by the
   * read-only listing.
   *
   * @returns how many files were removed.
   */
  tidy(): number {
    for (const path of this.corrupt) {
      // Writes are atomic renames, so an unreadable record is corrupt, not half-written: keep it aside for a person.
      const { problem } = parseRecordRead(readPrivateFileSync(path));
      if (problem !== null) moveAside(path, this.logger, problem);
    }
    this.corrupt.clear();
    let removed = 0;
    for (const dir of [this.layout.sessionsDir, this.layout.claimsDir, this.location]) {
      try {
        removed += removeDeadTempFiles(dir, 10_000);
      } catch {
        // missing directory
      }
    }
    return removed;
  }

  private claimContext() {
    return { layout: this.layout, logger: this.logger, fsync: this.fsync };
  }

  /** Host identities a claim of `kind` may be filed under (host-scoped: this host's; v1 imports without one). */
  private claimHostIds(kind: string): (string | null)[] {
    return this.hostScoped.has(kind) ? [readHostIdentity().id, null] : [null];
  }

  private releaser(): SessionOwner {
    if (this.owner !== null) return this.owner;
    const host = readHostIdentity();
    return {
      // A store used without a manager (a tool): a one-off identity, never the holder's.
      sessionId: `tool-${randomUUID()}`,
      pid: process.pid,
      hostname: host.hostname,
      hostId: host.id,
      processStartTime: null,
      createdAt: Date.now(),
    };
  }

  private warn(error: unknown, what: string): void {
    const code = error instanceof SessionError ? error.code : (error as NodeJS.ErrnoException).code;
    this.logger.warn({ err: error, code }, `${what}: ${(error as Error).message}`);
  }
}

function asStoreError(error: unknown, file: string): unknown {
  return error instanceof SessionError ? error : new SessionWriteError(file, error);
}
