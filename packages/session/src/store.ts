import { join, resolve } from 'node:path';
import type { SessionLogger, SessionRecord } from './contract.js';
import { SessionLockLostError } from './errors.js';
import {
  ensurePrivateDir,
  type PrivateRead,
  quarantineSync,
  readPrivateFile,
  readPrivateFileSync,
  writePrivateFileSync,
} from './files.js';
import { FileLock } from './lock.js';
import { parseWith, RegistryFileSchema, toSessionRecord } from './schema.js';

/** The registry's content: every session that owns something, by sessionId. Mutable inside `update`. */
export interface RegistryData {
  sessions: Record<string, SessionRecord>;
}

/** What `update` tells the mutator about the stored registry. */
export interface UpdateContext {
  /** The stored registry was corrupt or foreign, was moved aside, and `draft` started empty. */
  readonly recovered: boolean;
}

/**
 * Where the shared registry lives. The file store is the default; a store on a
 * distributed engine (e.g. Redis with a lock) implements the same five members
 * and the manager does not change.
 */
export interface RegistryStore {
  /** Human-readable location (file path, URL) for messages. */
  readonly location: string;
  /** The registry as stored now, without taking the lock (a consistent snapshot, possibly out of date at once). */
  load(): Promise<RegistryData>;
  /** Sync {@link RegistryStore.load}. */
  loadSync(): RegistryData;
  /** Every session record, without taking the lock. */
  list(): Promise<SessionRecord[]>;
  /**
   * Read-modify-write under the store's cross-process lock: `mutate` changes
   * `draft` in place (it may await); the result is written before the lock is
   * released, and only if something changed.
   */
  update<T>(mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>): Promise<T>;
  /** Sync {@link RegistryStore.update}, for `process.on('exit')`. */
  updateSync<T>(mutate: (draft: RegistryData, context: UpdateContext) => T): T;
  /**
   * Optional, for stores that keep sessions alive by leases (e.g. Redis):
   * called once by the manager's constructor with the session this store
   * keeps a lease for. Stores without leases leave it out.
   */
  attachSession?(identity: SessionIdentity): void;
  /**
   * Optional, for lease-based stores: judges another session's record of the
   * draft `mutate` is working on (inside {@link RegistryStore.update}), e.g.
   * `stale` when its lease has expired. When present it replaces the
   * manager's own judgement (pid checks on this host, age limit); returning
   * `undefined` falls back to it.
   */
  judgeSession?(record: SessionRecord, now: number): 'live' | 'stale' | undefined;
  /**
   * Optional: whether ids of a resource kind are unique per `host` (ports,
   * pids) or across the whole `fleet` the store serves (VMs). In
   * `claimResources`, only sessions that share the scope count as taking an
   * id. Default (and always for stores without this member): `fleet`.
   */
  resourceScope?(kind: string): 'host' | 'fleet';
}

/** Who a session is, as told to a lease-based store by {@link RegistryStore.attachSession}. */
export interface SessionIdentity {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly processStartTime: string | null;
  readonly createdAt: number;
}

/** Options of {@link FileRegistryStore}. */
export interface FileRegistryStoreOptions {
  /** Private directory (created 0700, refused when unsafe). */
  readonly dir: string;
  /** File name of the registry inside `dir` (default `registry.json`). */
  readonly fileName?: string;
  /** Bounded wait for the lock (default 10 000 ms). */
  readonly lockTimeoutMs?: number;
  /** Age after which a lock held by another host or unreadable is broken (default 30 000 ms). */
  readonly lockStaleMs?: number;
  /** fsync data and directory on every write (default true). */
  readonly fsync?: boolean;
  /** Warnings (corrupt files moved aside); default silent. */
  readonly logger?: SessionLogger;
}

const SILENT: SessionLogger = { warn() {} };
const EMPTY = (): RegistryData => ({ sessions: {} });

/** The default store: one JSON file, changed under a lock file, written atomically. */
export class FileRegistryStore implements RegistryStore {
  /** Absolute path of the registry file. */
  readonly registryFile: string;
  /** Absolute path of its lock file. */
  readonly lockFile: string;
  /** Same as `registryFile`. */
  readonly location: string;
  private readonly lock: FileLock;
  private readonly fsync: boolean;
  private readonly logger: SessionLogger;

  /** @throws SessionDirUnsafeError when `dir` is unsafe. */
  constructor(options: FileRegistryStoreOptions) {
    const dir = resolve(options.dir);
    ensurePrivateDir(dir);
    this.registryFile = join(dir, options.fileName ?? 'registry.json');
    this.location = this.registryFile;
    this.lockFile = `${this.registryFile}.lock`;
    this.logger = options.logger ?? SILENT;
    this.fsync = options.fsync ?? true;
    this.lock = new FileLock(this.lockFile, {
      timeoutMs: options.lockTimeoutMs ?? 10_000,
      staleMs: options.lockStaleMs ?? 30_000,
      logger: this.logger,
    });
  }

  async load(): Promise<RegistryData> {
    return this.parse(await readPrivateFile(this.registryFile), false).data;
  }

  loadSync(): RegistryData {
    return this.parse(readPrivateFileSync(this.registryFile), false).data;
  }

  async list(): Promise<SessionRecord[]> {
    return Object.values((await this.load()).sessions);
  }

  // The critical section does its file I/O synchronously: a few small reads and
  // writes take tens of µs, while every async hop through the thread pool would
  // keep the lock held (and every other process waiting) for longer. Only the
  // wait for the lock and an async `mutate` (e.g. a port probe) yield.
  async update<T>(mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>): Promise<T> {
    const token = await this.lock.acquire();
    try {
      const read = readPrivateFileSync(this.registryFile);
      const { data, recovered } = this.parse(read, true);
      const before = unchangedText(read, data);
      const result = await mutate(data, { recovered });
      const after = serialize(data);
      if (after !== before) {
        if (!this.lock.stillOwns(token)) throw new SessionLockLostError(this.lockFile);
        writePrivateFileSync(this.registryFile, after, { fsync: this.fsync });
      }
      return result;
    } finally {
      this.lock.release(token);
    }
  }

  updateSync<T>(mutate: (draft: RegistryData, context: UpdateContext) => T): T {
    const token = this.lock.acquireSync();
    try {
      const read = readPrivateFileSync(this.registryFile);
      const { data, recovered } = this.parse(read, true);
      const before = unchangedText(read, data);
      const result = mutate(data, { recovered });
      if (result instanceof Promise) throw new TypeError('updateSync: "mutate" must not return a promise');
      const after = serialize(data);
      if (after !== before) writePrivateFileSync(this.registryFile, after, { fsync: this.fsync });
      return result;
    } finally {
      this.lock.release(token);
    }
  }

  /** Parses a read; under the lock, a corrupt or foreign file is moved aside (only then: a rename outside the lock could move a good file a writer just put there). */
  private parse(read: PrivateRead, locked: boolean): { data: RegistryData; recovered: boolean } {
    if (read.kind === 'missing') return { data: EMPTY(), recovered: false };
    const reason = read.kind === 'unsafe' ? read.reason : null;
    const parsed = read.kind === 'ok' ? parseWith(RegistryFileSchema, read.text) : null;
    if (parsed?.ok) {
      const sessions: Record<string, SessionRecord> = {};
      for (const [id, record] of Object.entries(parsed.value.sessions))
        sessions[id] = toSessionRecord(record);
      return { data: { sessions }, recovered: false };
    }
    if (locked)
      quarantineSync(
        this.registryFile,
        reason ?? (parsed && !parsed.ok ? parsed.reason : 'invalid'),
        this.logger,
      );
    return { data: EMPTY(), recovered: true };
  }
}

/**
 * The text that needs no write: what was read (a file in another serialisation
 * only costs one extra write), the empty registry when there was no file, and
 * nothing (always write) when the file was unsafe.
 */
function unchangedText(read: PrivateRead, data: RegistryData): string | null {
  if (read.kind === 'ok') return read.text;
  return read.kind === 'missing' ? serialize(data) : null;
}

function serialize(data: RegistryData): string {
  return `${JSON.stringify({ format: 'core-session-registry', version: 1, sessions: data.sessions }, null, 2)}\n`;
}
