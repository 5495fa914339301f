// The connection to the server: reconnects for ever with backoff, logs an
// outage once and the recovery once, bounds every call by a deadline instead
// of queueing commands without limit, and knows since when it has been
// connected (expired leases read as "settling" until one lease TTL has passed).
import { EventEmitter } from 'node:events';
import { SessionError, type SessionLogger } from '@core/session';
import { Redis, ReplyError } from 'ioredis';
import {
  RedisStoreCorruptError,
  RedisStoreNotReplicatedError,
  RedisStoreUnavailableError,
} from './errors.js';
import type { ResolvedRedisOptions } from './options.js';
import {
  CLAIM,
  DROP_LEASE,
  ENSURE_EPOCH,
  HEARTBEAT,
  IMPORT_V1_RECORD,
  PUT_RECORD,
  PUT_RECORD_FAST,
  REAP_WRITE,
  RELEASE_CLAIM,
  REMOVE_RECORD,
  TAKE_OVER,
} from './scripts.js';

const SCRIPTS = {
  coreEnsureEpoch: ENSURE_EPOCH,
  coreDropLease: DROP_LEASE,
  corePutRecord: PUT_RECORD,
  corePutRecordFast: PUT_RECORD_FAST,
  coreRemoveRecord: REMOVE_RECORD,
  coreHeartbeat: HEARTBEAT,
  coreImportV1: IMPORT_V1_RECORD,
  coreClaim: CLAIM,
  coreReleaseClaim: RELEASE_CLAIM,
  coreTakeOver: TAKE_OVER,
  coreReapWrite: REAP_WRITE,
} as const;

/** Name of one of the store's scripts. */
export type ScriptName = keyof typeof SCRIPTS;

/** Eviction policies that never evict a key (leases have a TTL: `volatile-*` evicts them first). */
const SAFE_POLICIES = new Set(['noeviction']);

/** Events of the connection. */
export interface ConnectionEvents {
  outage: [{ readonly at: number; readonly error: Error | null }];
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
  /** Connected (first time or again); the store re-checks the epoch and its lease. */
  ready: [];
}

/** One ioredis client with outage bookkeeping. */
export class Connection {
  private client: Redis;
  /** When the client last showed any connection activity (an attempt, an error, a close, ready). */
  private lastActivityAt = Date.now();
  private readonly stallTimer: NodeJS.Timeout;
  /** Whether a stalled client was reported in this outage (later replacements log at debug). */
  private stallReported = false;
  readonly events = new EventEmitter();
  private outageStartedAt: number | null = null;
  private readySince: number | null = null;
  private lastError: Error | null = null;
  private closed = false;
  private policyChecked = false;
  /** Replicas the master reported connected when it was last (re)connected. */
  private replicas = 0;
  private replicationRead: Promise<void> = Promise.resolve();

  /**
   * @param options - resolved store options
   * @param location - for messages
   * @param logger - where outage and recovery go
   */
  constructor(
    private readonly options: ResolvedRedisOptions,
    private readonly location: string,
    private readonly logger: SessionLogger,
  ) {
    this.client = this.createClient();
    this.stallTimer = setInterval(() => this.replaceIfStalled(), 1_000);
    this.stallTimer.unref();
  }

  /** The ioredis client in use (replaced when it stalls: read it at each call, never keep it). */
  get redis(): Redis {
    return this.client;
  }

  private createClient(): Redis {
    const maxDelay = this.options.reconnectMaxDelayMs;
    const client = new Redis({
      ...this.options.endpoint.options,
      // Behind Sentinel: follow a failover as soon as Sentinel announces it (+switch-master).
      ...(this.options.endpoint.sentinel ? { failoverDetector: true } : {}),
      // Commands fail at once while disconnected instead of queueing without
      // bound; `call` waits for the connection itself, with a deadline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: this.connectTimeoutMs,
      // A Sentinel that accepts but never answers (paused, overloaded) is passed over for the next one.
      sentinelCommandTimeout: this.options.commandTimeoutMs,
      // 50 ms doubling up to `reconnectMaxDelayMs`, plus jitter so a fleet does not reconnect in lockstep.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 16), maxDelay) + Math.random() * 50,
      connectionName: 'core-session',
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua });
    // Events of a client that was replaced are no longer this connection's.
    const current = () => client === this.client;
    client.on('error', (error: Error) => {
      if (!current()) return;
      this.lastActivityAt = Date.now();
      this.lastError = error;
      this.noteOutage(error);
    });
    client.on('close', () => {
      if (!current()) return;
      this.lastActivityAt = Date.now();
      this.noteOutage(null);
    });
    client.on('ready', () => {
      if (!current()) return;
      this.lastActivityAt = Date.now();
      this.noteReady();
    });
    for (const event of ['connecting', 'connect', 'reconnecting', 'end'])
      client.on(event, () => {
        if (current()) this.lastActivityAt = Date.now();
      });
    return client;
  }

  private get connectTimeoutMs(): number {
    return Math.max(this.options.commandTimeoutMs, 1_000);
  }

  /**
   * A client that is not connected and has not even tried to (no connect,
   * error, close or reconnect) for longer than a connect timeout plus the
   * longest reconnect delay is stuck — seen with ioredis behind Sentinel when
   * the failover announcement arrives while it is still connecting: it never
   * tries again. It is replaced by a new client, which starts over by asking
   * Sentinel for the master. A client that ended (it gave up: ioredis never
   * leaves `end`) is replaced at once: waiting for it only lets the lease run out.
   */
  private replaceIfStalled(): void {
    try {
      if (this.closed || this.client.status === 'ready') return;
      const ended = this.client.status === 'end';
      const stallMs = this.connectTimeoutMs + this.options.reconnectMaxDelayMs + 2_000;
      const silentMs = Date.now() - this.lastActivityAt;
      if (!ended && silentMs < stallMs) return;
      const stuck = this.client;
      // Once per outage at warn: while every Sentinel stays silent this repeats every few seconds.
      const log = this.stallReported
        ? this.logger.debug?.bind(this.logger)
        : this.logger.warn.bind(this.logger);
      this.stallReported = true;
      log?.(
        { location: this.location, status: stuck.status, silentMs },
        ended
          ? `session store ${this.location}: the client ended (it would never reconnect); replacing it`
          : `session store ${this.location}: the client made no connection attempt for ${silentMs} ms (status ${stuck.status}); replacing it`,
      );
      this.client = this.createClient();
      this.lastActivityAt = Date.now();
      stuck.disconnect();
    } catch (error) {
      this.logger.warn({ err: error }, `session store ${this.location}: replacing a stalled client failed`);
    }
  }

  /** Whether the server is reachable now. */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Epoch ms the current outage began, or null while connected. */
  get outageSince(): number | null {
    return this.outageStartedAt;
  }

  /**
   * Whether an absent lease may be trusted as expired: connected without a
   * break for at least `settleMs`. Before that, owners may still be
   * re-establishing leases after an outage (theirs or the server's).
   */
  get settled(): boolean {
    return this.readySince !== null && Date.now() - this.readySince >= this.options.settleMs;
  }

  /** Milliseconds until {@link Connection.settled} (null while disconnected). */
  get settlesInMs(): number | null {
    if (this.readySince === null) return null;
    return Math.max(0, this.options.settleMs - (Date.now() - this.readySince));
  }

  /** Runs one of the store's scripts. */
  script(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const command = (
      this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>
    )[name] as (...a: (string | number)[]) => Promise<unknown>;
    return command.call(this.redis, keys.length, ...keys, ...args);
  }

  /**
   * Runs `run` against the server, waiting through outages up to
   * `unavailableTimeoutMs` (from `started`).
   * @throws RedisStoreUnavailableError after the deadline; RedisStoreCorruptError when the server refuses the command.
   */
  async call<T>(run: () => Promise<T>, started = Date.now()): Promise<T> {
    for (;;) {
      if (this.closed)
        throw new RedisStoreUnavailableError(this.location, 0, new Error('the store was closed'));
      if (this.redis.status === 'ready') {
        try {
          return await run();
        } catch (error) {
          // The server refused the command (WRONGTYPE on a planted key, a script error): not an outage.
          if (error instanceof ReplyError)
            throw new RedisStoreCorruptError('one of the keys of this operation', (error as Error).message);
          if (!(error instanceof Error) || !isConnectionError(error)) throw error;
          this.lastError = error; // connection lost or command timed out: wait for the reconnect and try again
        }
      }
      const left = this.options.unavailableTimeoutMs - (Date.now() - started);
      if (left <= 0)
        throw new RedisStoreUnavailableError(this.location, Date.now() - started, this.lastError);
      await this.waitReady(left);
    }
  }

  /**
   * Waits until the replicas (`replicasToAck`, or with `'auto'` those the
   * master reported connected) acknowledge every write this connection made.
   * No replicas: returns at once.
   * @throws RedisStoreNotReplicatedError when fewer acknowledge within `replicaAckTimeoutMs`.
   */
  async replicated(): Promise<void> {
    await this.replicationRead;
    const wanted = this.options.replicasToAck === 'auto' ? this.replicas : this.options.replicasToAck;
    if (wanted === 0) return;
    const timeout = this.options.replicaAckTimeoutMs;
    const acknowledged = Number(await this.call(() => this.redis.wait(wanted, timeout)));
    if (acknowledged >= wanted) return;
    // A replica may have gone for good: count again for the next writes; this one is not safe.
    this.replicationRead = this.readReplication();
    throw new RedisStoreNotReplicatedError(this.location, wanted, acknowledged, timeout);
  }

  /** Replicas the writes wait for now (`replicasToAck`, or the connected count for `'auto'`). */
  get replicasWaitedFor(): number {
    return this.options.replicasToAck === 'auto' ? this.replicas : this.options.replicasToAck;
  }

  /** Resolves once connected for `settleMs` (at once when settled), or when `signal` aborts. */
  async whenSettled(signal?: AbortSignal): Promise<void> {
    while (!this.settled && !this.closed && !signal?.aborted) {
      const wait = this.settlesInMs ?? 250;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(10, Math.min(wait + 5, 1_000)));
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Closes the connection (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.stallTimer);
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
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
    this.readySince = null;
    if (this.closed || this.outageStartedAt !== null) return;
    this.outageStartedAt = Date.now();
    this.logger.warn(
      { location: this.location, err: error ?? undefined },
      `session store ${this.location} unreachable${error ? ` (${error.message})` : ''}; retrying with backoff`,
    );
    this.emitSafely('outage', { at: this.outageStartedAt, error });
  }

  private noteReady(): void {
    this.readySince = Date.now();
    this.stallReported = false;
    const since = this.outageStartedAt;
    this.outageStartedAt = null;
    if (since !== null) {
      const at = Date.now();
      this.logger.info?.(
        { location: this.location, downtimeMs: at - since },
        `session store ${this.location} reachable again after ${at - since} ms; re-asserting the lease`,
      );
      this.emitSafely('reconnected', { at, downtimeMs: at - since });
    }
    if (!this.policyChecked) void this.checkEvictionPolicy();
    this.replicationRead = this.readReplication();
    this.emitSafely('ready');
  }

  /** Emits from inside ioredis' own event handlers: a listener that throws is logged, never let through. */
  private emitSafely(event: keyof ConnectionEvents, ...args: unknown[]): void {
    try {
      this.events.emit(event, ...args);
    } catch (error) {
      this.logger.warn(
        { err: error, event },
        `session store ${this.location}: a \`${event}\` listener threw: ${(error as Error).message}`,
      );
    }
  }

  /** Reads how many replicas the master has connected (`INFO replication`); never throws. */
  private async readReplication(): Promise<void> {
    try {
      const info = String(await this.redis.info('replication'));
      const count = /^connected_slaves:(\d+)\r?$/m.exec(info);
      this.replicas = count ? Number(count[1]) : 0;
    } catch (error) {
      this.logger.debug?.(
        { err: error },
        `session store ${this.location}: could not read INFO replication (${(error as Error).message})`,
      );
    }
  }

  /** Warns once when the server may evict keys: a lease evicted early makes a live session look dead. */
  private async checkEvictionPolicy(): Promise<void> {
    try {
      const reply = (await this.redis.config('GET', 'maxmemory-policy')) as unknown;
      const policy = Array.isArray(reply) ? String(reply[1] ?? '') : '';
      this.policyChecked = true;
      if (policy !== '' && !SAFE_POLICIES.has(policy)) {
        this.logger.warn(
          { location: this.location, maxmemoryPolicy: policy },
          `session store ${this.location}: maxmemory-policy is "${policy}", so under memory pressure the server may evict ` +
            'leases (a live session then looks dead and is reaped) or records (resources forgotten). ' +
            'Use "noeviction" for the session store, or a server of its own.',
        );
      }
    } catch (error) {
      // Managed servers often disable CONFIG: say that it could not be checked, once.
      this.policyChecked = true;
      this.logger.debug?.(
        { err: error },
        `session store ${this.location}: could not read maxmemory-policy (${(error as Error).message})`,
      );
    }
  }
}

/** Errors that mean "no answer" (the connection, not the command): retried after the reconnect. */
function isConnectionError(error: Error): boolean {
  if (error instanceof SessionError) return false;
  return (
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|max retries per request/i.test(
      error.message,
    ) || (error as NodeJS.ErrnoException).code !== undefined
  );
}
