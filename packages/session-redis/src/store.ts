import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  parseSessionRecord,
  type RegistryData,
  type RegistryStore,
  type SessionIdentity,
  type SessionLogger,
  type SessionRecord,
  type UpdateContext,
} from '@core/session';
import { Redis, ReplyError } from 'ioredis';
import {
  RedisLeaseConflictError,
  RedisStoreContendedError,
  RedisStoreSyncError,
  RedisStoreUnavailableError,
} from './errors.js';
import {
  type RedisRegistryStoreOptions,
  type ResolvedRedisOptions,
  redactUrl,
  resolveRedisOptions,
} from './options.js';
import { COMMIT_SCRIPT, HEARTBEAT_SCRIPT, READ_SCRIPT, RENEW_SCRIPT } from './scripts.js';

/** Why and how this session got a new lease. */
export interface LeaseRenewal {
  /** Epoch ms. */
  readonly at: number;
  /** The lease that expired (or vanished with the server's data). */
  readonly previousLeaseId: string;
  /** The new lease, or null when the session owned nothing any more and was not re-registered. */
  readonly leaseId: string | null;
  /**
   * `kept`: the record was still stored (nobody had reaped it) and now carries
   * the new lease; `restored`: the record was gone (reaped by another manager,
   * or the server lost its data) and was written back from this process's
   * last committed state; `none`: gone, and nothing to restore.
   */
  readonly outcome: 'kept' | 'restored' | 'none';
}

/** One session as {@link RedisRegistryStore.listSessions} sees it. */
export interface FleetSession {
  readonly record: SessionRecord;
  /** Its live lease, or null when the lease expired (the session is stale and reapable). */
  readonly leaseId: string | null;
  /** Whether its lease is live. */
  readonly live: boolean;
}

/** Events of {@link RedisRegistryStore} and their payloads. */
export interface RedisRegistryStoreEvents {
  /** The connection was lost (emitted once per outage). */
  outage: [{ readonly at: number; readonly error: Error | null }];
  /** The server answers again after an outage. */
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
  /** This session's lease had expired and it was re-registered under a new one. */
  leaseRenewed: [LeaseRenewal];
}

interface Snapshot {
  readonly version: string;
  /** Parsed records by sessionId (corrupt values are left out and left alone). */
  readonly records: Map<string, SessionRecord>;
  /** JSON of each parsed record, to find what a mutation changed. */
  readonly texts: Map<string, string>;
  /** leaseId stored with each record ('-' for none). */
  readonly recordLeases: Map<string, string>;
  /** Current value of each session's lease key, null when expired. */
  readonly leases: Map<string, string | null>;
}

interface Operation {
  readonly sessionId: string;
  /** Stored value, '' to delete. */
  readonly value: string;
}

type ScriptCaller = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

const SILENT: SessionLogger = { warn() {} };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A {@link RegistryStore} on Redis for a fleet of machines: every session's
 * record is one field of a hash, and a session is alive while its **lease**
 * (a key with a TTL, refreshed by a heartbeat) exists. A session whose lease
 * expired is stale on every machine and whichever manager reaps first gets
 * its resources; every change is a compare-and-set Lua script, so concurrent
 * managers lose nothing and exactly one reaper wins.
 *
 * One store keeps the lease of one session: pass a new store to each session
 * manager (`getSessionManager({ store })`). Call {@link RedisRegistryStore.close}
 * after `unregisterSession()` so the connection does not keep the process alive.
 */
export class RedisRegistryStore implements RegistryStore {
  /** The server, password redacted, and the key prefix. */
  readonly location: string;
  /** Lifetime of a lease without a heartbeat (ms). */
  readonly leaseTtlMs: number;
  /** Heartbeat interval (ms). */
  readonly heartbeatMs: number;
  /** Prefix of every key. */
  readonly keyPrefix: string;

  private readonly options: ResolvedRedisOptions;
  private readonly logger: SessionLogger;
  private readonly redis: Redis;
  private readonly events = new EventEmitter();
  private readonly sessionsKey: string;
  private readonly versionKey: string;
  private identity: SessionIdentity | null = null;
  private currentLeaseId: string | null = null;
  private ownValue: string | null = null;
  private judging: Snapshot | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private beating = false;
  private closed = false;
  private outageStartedAt: number | null = null;
  private lastError: Error | null = null;
  private renewals: LeaseRenewal[] = [];

  /** @throws TypeError / RangeError on bad options (nothing is connected then). */
  constructor(options: RedisRegistryStoreOptions) {
    this.options = resolveRedisOptions(options);
    this.logger = options.logger ?? SILENT;
    this.leaseTtlMs = this.options.leaseTtlMs;
    this.heartbeatMs = this.options.heartbeatMs;
    this.keyPrefix = this.options.keyPrefix;
    this.location = `${redactUrl(this.options.url)} (keys ${this.keyPrefix}*)`;
    this.sessionsKey = `${this.keyPrefix}sessions`;
    this.versionKey = `${this.keyPrefix}version`;
    const maxDelay = this.options.reconnectMaxDelayMs;
    this.redis = new Redis(this.options.url, {
      // Commands fail at once while disconnected instead of queueing without
      // bound; `update` waits for the connection itself, with a deadline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: Math.max(this.options.commandTimeoutMs, 1_000),
      // Reconnect for ever: 50 ms doubling up to `reconnectMaxDelayMs`, plus jitter so a fleet does not reconnect in lockstep.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 16), maxDelay) + Math.random() * 50,
      connectionName: 'core-session',
    });
    this.redis.defineCommand('coreSessionRead', { lua: READ_SCRIPT });
    this.redis.defineCommand('coreSessionCommit', { lua: COMMIT_SCRIPT });
    this.redis.defineCommand('coreSessionHeartbeat', { lua: HEARTBEAT_SCRIPT });
    this.redis.defineCommand('coreSessionRenew', { lua: RENEW_SCRIPT });
    this.redis.on('error', (error: Error) => {
      this.lastError = error;
      this.noteOutage(error);
    });
    this.redis.on('close', () => this.noteOutage(null));
    this.redis.on('ready', () => this.noteReady());
  }

  // ---- readable state -------------------------------------------------------------

  /** The lease this store holds for its session, or null (the session owns nothing, or was never registered). */
  get leaseId(): string | null {
    return this.currentLeaseId;
  }

  /** Whether the server is reachable now. */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Epoch ms the current outage began, or null while connected. */
  get outageSince(): number | null {
    return this.outageStartedAt;
  }

  /** Every lease renewal of this store, oldest first (a session re-registered after its lease expired). */
  get leaseRenewals(): readonly LeaseRenewal[] {
    return this.renewals;
  }

  /**
   * Subscribes to `outage`, `reconnected` or `leaseRenewed`.
   * @returns this store
   */
  on<E extends keyof RedisRegistryStoreEvents>(
    event: E,
    listener: (...args: RedisRegistryStoreEvents[E]) => void,
  ): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /**
   * Removes a listener added with {@link RedisRegistryStore.on}.
   * @returns this store
   */
  off<E extends keyof RedisRegistryStoreEvents>(
    event: E,
    listener: (...args: RedisRegistryStoreEvents[E]) => void,
  ): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  // ---- RegistryStore --------------------------------------------------------------

  /** Binds the store to the session whose lease it keeps (the manager calls this once). @throws RedisLeaseConflictError for a second, different session */
  attachSession(identity: SessionIdentity): void {
    if (this.identity !== null && this.identity.sessionId !== identity.sessionId) {
      throw new RedisLeaseConflictError(
        identity.sessionId,
        `this store already keeps the lease of session ${this.identity.sessionId}`,
      );
    }
    this.identity = { ...identity };
  }

  /** Inside `update`: `live` while a session's lease key exists, else `stale` (on every host alike). */
  judgeSession(record: SessionRecord): 'live' | 'stale' | undefined {
    const snapshot = this.judging;
    if (snapshot === null) return undefined;
    if (record.sessionId === this.identity?.sessionId) return 'live';
    return snapshot.leases.get(record.sessionId) ? 'live' : 'stale';
  }

  /** `host` for the kinds in `hostScopedKinds` (default port, process), else `fleet`. */
  resourceScope(kind: string): 'host' | 'fleet' {
    return this.options.hostScopedKinds.has(kind) ? 'host' : 'fleet';
  }

  async load(): Promise<RegistryData> {
    const snapshot = await this.withServer(() => this.read());
    return { sessions: Object.fromEntries(snapshot.records) };
  }

  /**
   * Every session with its lease state, without changing anything (unlike the
   * manager's `getAllActiveSessions`, which removes stale entries): for
   * status displays across the fleet.
   */
  async listSessions(): Promise<FleetSession[]> {
    const snapshot = await this.withServer(() => this.read());
    return [...snapshot.records.values()].map((record) => ({
      record,
      leaseId: snapshot.leases.get(record.sessionId) ?? null,
      live: Boolean(snapshot.leases.get(record.sessionId)),
    }));
  }

  /** @throws RedisStoreSyncError always: a network store cannot be read synchronously. */
  loadSync(): RegistryData {
    throw new RedisStoreSyncError('loadSync', this.location, this.leaseTtlMs);
  }

  async list(): Promise<SessionRecord[]> {
    return Object.values((await this.load()).sessions);
  }

  /**
   * Optimistic read-modify-write: read a snapshot (version, records, leases),
   * run `mutate` on a copy, and commit what changed with a Lua script that
   * applies it only if the version is unchanged and no other session's record
   * it touches has a live lease. Otherwise `mutate` runs again on a fresh
   * snapshot (so a `claimResources` chooser sees what the winner took).
   * Calls of one store run one at a time.
   *
   * @throws RedisStoreUnavailableError, RedisStoreContendedError, RedisLeaseConflictError
   */
  update<T>(mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>): Promise<T> {
    return this.serialize(() => this.updateNow(mutate));
  }

  /** @throws RedisStoreSyncError always: in `process.on('exit')` the lease simply expires (see the README). */
  updateSync<T>(_mutate: (draft: RegistryData, context: UpdateContext) => T): T {
    throw new RedisStoreSyncError('updateSync', this.location, this.leaseTtlMs);
  }

  /**
   * Stops the heartbeat and closes the connection. The session's lease is
   * left to expire (call the manager's `unregisterSession()` first to remove
   * the session at once). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    await this.queue.catch(() => {});
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // ---- internals ------------------------------------------------------------------

  private serialize<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private script(name: string): ScriptCaller {
    return ((this.redis as unknown as Record<string, ScriptCaller>)[name] as ScriptCaller).bind(this.redis);
  }

  private leaseKey(sessionId: string): string {
    return `${this.keyPrefix}lease:${sessionId}`;
  }

  private async updateNow<T>(
    mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>,
  ): Promise<T> {
    const started = Date.now();
    const own = this.identity?.sessionId ?? null;
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.withServer(() => this.read(), started);
      if (own !== null && this.currentLeaseId !== null && snapshot.leases.get(own) !== this.currentLeaseId) {
        // Our lease expired (an outage longer than the TTL, or a server that lost its data): get a new one first.
        await this.withServer(() => this.renewLease(), started);
        continue;
      }
      if (own !== null) this.checkOwnRecord(snapshot, own);
      const draft: RegistryData = { sessions: {} };
      for (const [id, record] of snapshot.records) draft.sessions[id] = structuredClone(record);
      this.judging = snapshot;
      let result: T;
      try {
        result = await mutate(draft, { recovered: false });
      } finally {
        this.judging = null;
      }
      const operations = this.diff(snapshot, draft, own);
      if (operations.ops.length === 0) return result;
      const reply = (await this.withServer(() => this.commit(snapshot.version, operations), started)) as [
        string,
        unknown?,
      ];
      switch (reply[0]) {
        case 'ok':
          this.committed(operations, own, draft);
          return result;
        case 'lease-lost':
          await this.withServer(() => this.renewLease(), started);
          break;
        case 'lease-conflict':
          throw new RedisLeaseConflictError(
            own ?? '(none)',
            `another holder has a live lease ${String(reply[1])} under this session's id`,
          );
        default:
          // 'conflict' (someone committed first) or 'lease-live' (a session we judged stale heartbeated meanwhile): run again.
          if (Date.now() - started > this.options.unavailableTimeoutMs)
            throw new RedisStoreContendedError(this.location, attempt, Date.now() - started);
          if (attempt > 2) await sleep(Math.random() * Math.min(2 ** attempt, 50));
      }
    }
  }

  /** Ownership check of this session's stored record: same session id, same host, and our lease. */
  private checkOwnRecord(snapshot: Snapshot, own: string): void {
    const record = snapshot.records.get(own);
    if (!record || !this.identity) return;
    const storedLease = snapshot.recordLeases.get(own);
    const liveLease = snapshot.leases.get(own);
    if (record.hostname !== this.identity.hostname || record.pid !== this.identity.pid) {
      throw new RedisLeaseConflictError(
        own,
        `its stored record belongs to pid ${record.pid} on ${record.hostname}, not pid ${this.identity.pid} on ${this.identity.hostname}`,
      );
    }
    if (liveLease && liveLease !== this.currentLeaseId && storedLease !== this.currentLeaseId) {
      throw new RedisLeaseConflictError(own, `its record is held under another live lease ${liveLease}`);
    }
  }

  private diff(
    snapshot: Snapshot,
    draft: RegistryData,
    own: string | null,
  ): { ops: Operation[]; leaseId: string; held: boolean } {
    const held = this.currentLeaseId !== null;
    const leaseId = this.currentLeaseId ?? randomUUID();
    const ops: Operation[] = [];
    for (const [id, record] of Object.entries(draft.sessions)) {
      const text = JSON.stringify(record);
      if (snapshot.texts.get(id) === text) continue;
      const recordLease = id === own ? leaseId : (snapshot.recordLeases.get(id) ?? '-');
      ops.push({ sessionId: id, value: `v1 ${recordLease} ${text}` });
    }
    for (const id of snapshot.records.keys())
      if (!Object.hasOwn(draft.sessions, id)) ops.push({ sessionId: id, value: '' });
    return { ops, leaseId, held };
  }

  private commit(
    version: string,
    operations: { ops: Operation[]; leaseId: string; held: boolean },
  ): Promise<unknown> {
    const { ops, leaseId, held } = operations;
    const keys = [this.sessionsKey, this.versionKey, ...ops.map((op) => this.leaseKey(op.sessionId))];
    const args = [
      version,
      this.identity?.sessionId ?? '',
      leaseId,
      String(this.leaseTtlMs),
      held ? '1' : '0',
      ...ops.flatMap((op) => [op.sessionId, op.value]),
    ];
    return this.script('coreSessionCommit')(keys.length, ...keys, ...args);
  }

  private committed(
    operations: { ops: Operation[]; leaseId: string },
    own: string | null,
    draft: RegistryData,
  ): void {
    if (own === null) return;
    const mine = operations.ops.find((op) => op.sessionId === own);
    if (!mine) return;
    if (mine.value === '') {
      this.currentLeaseId = null;
      this.ownValue = null;
      this.stopHeartbeat();
    } else {
      this.currentLeaseId = operations.leaseId;
      this.ownValue = JSON.stringify(draft.sessions[own]);
      this.startHeartbeat();
    }
  }

  private async read(): Promise<Snapshot> {
    const reply = (await this.script('coreSessionRead')(
      2,
      this.sessionsKey,
      this.versionKey,
      `${this.keyPrefix}lease:`,
    )) as (string | null)[];
    const snapshot: Snapshot = {
      version: String(reply[0] ?? '0'),
      records: new Map(),
      texts: new Map(),
      recordLeases: new Map(),
      leases: new Map(),
    };
    for (let i = 1; i + 2 <= reply.length; i += 3) {
      const id = reply[i] as string;
      const stored = reply[i + 1] ?? '';
      snapshot.leases.set(id, reply[i + 2] ?? null);
      const match = /^v1 (\S+) ([\s\S]*)$/.exec(stored);
      const parsed = match ? parseSessionRecord(match[2] as string) : null;
      if (!match || !parsed?.ok || parsed.value.sessionId !== id) {
        this.warnCorrupt(id, parsed && !parsed.ok ? parsed.reason : 'not a "v1 <lease> <record>" value');
        continue;
      }
      snapshot.records.set(id, parsed.value);
      snapshot.texts.set(id, JSON.stringify(parsed.value));
      snapshot.recordLeases.set(id, match[1] as string);
    }
    return snapshot;
  }

  private readonly corruptWarned = new Set<string>();
  private warnCorrupt(id: string, reason: string): void {
    if (this.corruptWarned.has(id)) return;
    this.corruptWarned.add(id);
    this.logger.warn(
      { sessionId: id, key: this.sessionsKey, reason },
      `session registry ${this.location}: the entry of session ${id} is corrupt or foreign (${reason}); it is left in place and ignored`,
    );
  }

  /** A new lease for this session (its old one expired); re-registers the record if it was reaped. */
  private async renewLease(): Promise<void> {
    const own = this.identity?.sessionId;
    const previous = this.currentLeaseId;
    if (!own || previous === null) return;
    const next = randomUUID();
    const keys = [this.sessionsKey, this.versionKey, this.leaseKey(own)];
    const reply = (await this.script('coreSessionRenew')(
      keys.length,
      ...keys,
      next,
      String(this.leaseTtlMs),
      own,
      this.ownValue ?? '',
    )) as [string, unknown?];
    const outcome = reply[0];
    if (outcome === 'lease-conflict') {
      if (reply[1] === previous) return; // still ours after all (a refresh raced the read)
      throw new RedisLeaseConflictError(
        own,
        `another holder took a lease (${String(reply[1])}) under this session's id`,
      );
    }
    const renewal: LeaseRenewal = {
      at: Date.now(),
      previousLeaseId: previous,
      leaseId: outcome === 'none' ? null : next,
      outcome: outcome as LeaseRenewal['outcome'],
    };
    this.currentLeaseId = renewal.leaseId;
    if (renewal.leaseId === null) this.stopHeartbeat();
    this.renewals.push(renewal);
    if (this.renewals.length > 100) this.renewals.shift();
    this.logger.warn(
      { sessionId: own, ...renewal },
      `session ${own}: its lease ${previous} had expired; ` +
        (outcome === 'kept'
          ? `re-registered under the new lease ${next} (no one had reaped it)`
          : outcome === 'restored'
            ? `its record was gone (reaped by another manager, or the server lost its data) and was re-registered under the new lease ${next} from this process's state`
            : 'it owned nothing, so it was not re-registered'),
    );
    this.events.emit('leaseRenewed', renewal);
  }

  /** Runs `call` against the server, waiting through outages up to the deadline. */
  private async withServer<T>(call: () => Promise<T>, started = Date.now()): Promise<T> {
    for (;;) {
      if (this.closed)
        throw new RedisStoreUnavailableError(this.location, 0, new Error('the store was closed'));
      if (this.redis.status === 'ready') {
        try {
          return await call();
        } catch (error) {
          if (error instanceof ReplyError || !(error instanceof Error)) throw error;
          if (
            error instanceof RedisLeaseConflictError ||
            error instanceof RedisStoreContendedError ||
            error instanceof TypeError
          )
            throw error;
          this.lastError = error; // connection lost or command timed out: wait for the reconnect and try again
        }
      }
      const left = this.options.unavailableTimeoutMs - (Date.now() - started);
      if (left <= 0)
        throw new RedisStoreUnavailableError(this.location, Date.now() - started, this.lastError);
      await this.waitReady(left);
    }
  }

  private waitReady(timeoutMs: number): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(timeoutMs, 250));
      this.redis.once('ready', done);
    });
  }

  private noteOutage(error: Error | null): void {
    if (this.closed || this.outageStartedAt !== null) return;
    this.outageStartedAt = Date.now();
    const own = this.identity?.sessionId;
    this.logger.warn(
      { location: this.location, err: error ?? undefined, sessionId: own, leaseId: this.currentLeaseId },
      `session registry ${this.location} unreachable${error ? ` (${error.message})` : ''}; retrying with backoff` +
        (this.currentLeaseId
          ? `; this session's lease expires ${this.leaseTtlMs} ms after its last refresh unless the server is back by then`
          : ''),
    );
    this.events.emit('outage', { at: this.outageStartedAt, error });
  }

  private noteReady(): void {
    const since = this.outageStartedAt;
    if (since === null) return;
    this.outageStartedAt = null;
    const at = Date.now();
    this.logger.info?.(
      { location: this.location, downtimeMs: at - since },
      `session registry ${this.location} reachable again after ${at - since} ms; re-asserting the lease`,
    );
    this.events.emit('reconnected', { at, downtimeMs: at - since });
    void this.beat();
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== null || this.closed) return;
    this.heartbeatTimer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Refreshes the lease; when it is gone, renews it (in the update queue). Never throws: a timer has no one to report to. */
  private async beat(): Promise<void> {
    const own = this.identity?.sessionId;
    const lease = this.currentLeaseId;
    if (!own || lease === null || this.beating || this.closed || this.redis.status !== 'ready') return;
    this.beating = true;
    try {
      const refreshed = await this.script('coreSessionHeartbeat')(
        1,
        this.leaseKey(own),
        lease,
        String(this.leaseTtlMs),
      );
      if (refreshed !== 1)
        await this.serialize(async () => {
          if (this.currentLeaseId === lease) await this.renewLease();
        });
    } catch (error) {
      // A connection error belongs to the outage already logged once; anything else is news.
      const log = error instanceof ReplyError || error instanceof RedisLeaseConflictError ? 'warn' : 'debug';
      this.logger[log]?.({ err: error }, `lease heartbeat failed: ${(error as Error).message}`);
    } finally {
      this.beating = false;
    }
  }
}
