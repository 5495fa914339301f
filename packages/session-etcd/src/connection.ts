// The client side of the cluster: one etcd3 client over every endpoint, each
// request bounded by a deadline and tried again on another member until
// `unavailableTimeoutMs` (a killed, paused or partitioned member costs one
// deadline, then it is skipped for a while). An outage is a request that
// failed as a whole (no member answered within the retry budget), or
// failures with no answer in between for as long as that budget (keepalives,
// which are not retried here): one member that fails while the next one
// answers is no outage. It is logged once and the recovery once; and it
// knows since when it has been reaching the cluster without a single failed
// attempt (absent leases read as "settling" until one lease TTL has passed).
// etcd3's own retry and circuit breaker are replaced: retrying a
// transaction is only safe when the caller knows it (see `call`).
import { EventEmitter } from 'node:events';
import { SessionError, type SessionLogger } from '@core/session';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';
import { accessErrorOf } from './access-errors.js';
import { EtcdStoreUnavailableError } from './errors.js';
import type { ResolvedEtcdOptions } from './options.js';
import { probeTls } from './tls-probe.js';

/** Events of the connection. */
export interface ConnectionEvents {
  outage: [{ readonly at: number; readonly error: Error | null }];
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
}

/** A member skipped for a moment after it failed (tells etcd3's pool to try the next one). */
class MemberResting extends Error {}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** Runs the call as is: `call` below owns retries. */
const PASS_THROUGH = { execute: (run: () => unknown) => run() } as unknown as Policy;

/** After a member failed, calls skip it for `restMs` (the others are tried first). */
function memberPolicy(restMs: number): Policy {
  let restingUntil = 0;
  return {
    execute: async (run: () => Promise<unknown>) => {
      if (Date.now() < restingUntil) throw new MemberResting('member resting after a failure');
      try {
        return await run();
      } catch (error) {
        if (error instanceof Error && isRetryable(error)) restingUntil = Date.now() + restMs;
        throw error;
      }
    },
  } as unknown as Policy;
}

/** Errors that mean "no answer now" (a member down, paused, partitioned, or an election): tried again. */
export function isRetryable(error: Error): boolean {
  if (error instanceof SessionError) return false;
  if (error instanceof MemberResting) return true;
  if (isRecoverableError(error)) return true;
  return /leader changed|no leader|request timed out|too many requests|not capable|connection|ECONNREFUSED|ECONNRESET|UNAVAILABLE|DEADLINE/i.test(
    error.message,
  );
}

/** One etcd3 client with outage bookkeeping. */
export class Connection {
  readonly client: Etcd3;
  readonly events = new EventEmitter();
  private outageStartedAt: number | null = null;
  /** Since when every attempt reached the cluster (reset by any failed attempt): the settle clock. */
  private reachableSince: number | null = null;
  /** Whether any request ever reached the cluster. */
  private everReached = false;
  /** First failed attempt with no answer since, or null. */
  private failingSince: number | null = null;
  private lastError: Error | null = null;
  /** A handshake of our own after a TLS connection failed, and what it found (see ./tls-probe.ts). */
  private tlsProbe: Promise<void> | null = null;
  private tlsTrouble: string | null = null;
  private closed = false;

  /**
   * @param options - resolved store options
   * @param location - for messages
   * @param logger - where outage and recovery go
   */
  constructor(
    private readonly options: ResolvedEtcdOptions,
    private readonly location: string,
    private readonly logger: SessionLogger,
  ) {
    const { tls, auth, commandTimeoutMs } = options;
    const restMs = Math.min(commandTimeoutMs, 1_000);
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      ...(tls === null
        ? {}
        : {
            credentials: {
              rootCertificate: tls.ca as Buffer,
              ...(tls.key === null ? {} : { privateKey: tls.key }),
              ...(tls.cert === null ? {} : { certChain: tls.cert }),
            },
          }),
      ...(auth === null ? {} : { auth: { username: auth.user, password: auth.password } }),
      // Each request (and each keepalive stream) ends after commandTimeoutMs: a paused member
      // or a cut link never holds a call longer than that.
      defaultCallOptions: () => ({ deadline: Date.now() + commandTimeoutMs }),
      faultHandling: { global: PASS_THROUGH, host: () => memberPolicy(restMs) },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 50,
        'grpc.max_reconnect_backoff_ms': 1_000,
        'grpc.keepalive_time_ms': Math.max(1_000, commandTimeoutMs),
        'grpc.keepalive_timeout_ms': commandTimeoutMs,
      },
    });
  }

  /** Whether the cluster answers: reached at least once, and no request has failed as a whole since the last answer. */
  get connected(): boolean {
    return this.everReached && this.outageStartedAt === null;
  }

  /** Epoch ms the current outage began, or null while reachable. */
  get outageSince(): number | null {
    return this.outageStartedAt;
  }

  /** Whether an absent lease may be trusted as expired: reachable without a break for at least `settleMs`. */
  get settled(): boolean {
    return this.reachableSince !== null && Date.now() - this.reachableSince >= this.options.settleMs;
  }

  /**
   * Runs `run` against the cluster, trying again while it does not answer,
   * up to `unavailableTimeoutMs` from `started`. Only for requests that are
   * safe to repeat: reads, or transactions whose caller recognises its own
   * earlier attempt in the state a repeat finds (every caller here does).
   * @throws EtcdStoreUnavailableError after the deadline, or at once for an error that retrying cannot fix (permission, auth).
   */
  async call<T>(run: () => Promise<T>, started = Date.now()): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed)
        throw new EtcdStoreUnavailableError(this.location, 0, new Error('the store was closed'));
      try {
        const result = await run();
        this.noteReachable();
        return result;
      } catch (error) {
        if (!(error instanceof Error) || !isRetryable(error)) {
          if (error instanceof SessionError) throw error;
          const refused =
            error instanceof Error
              ? accessErrorOf(error, this.location, this.options.auth?.user ?? null, this.options.keyPrefix)
              : null;
          if (refused !== null) {
            this.noteReachable(); // it answered, with a refusal
            throw refused;
          }
          throw new EtcdStoreUnavailableError(this.location, Date.now() - started, error);
        }
        this.noteFailedAttempt(error);
      }
      const left = this.options.unavailableTimeoutMs - (Date.now() - started);
      if (left <= 0) {
        // The request as a whole failed: no member answered within the budget.
        if (this.tlsProbe !== null) await this.tlsProbe;
        const failure = this.withTlsTrouble(this.lastError);
        this.beginOutage(failure);
        throw new EtcdStoreUnavailableError(this.location, Date.now() - started, failure);
      }
      const pause = Math.min(25 * 2 ** Math.min(attempt, 4), 400) + Math.random() * 25;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
    }
  }

  /** Records a request that reached the cluster (keepalives count too). */
  noteReachable(): void {
    this.everReached = true;
    this.failingSince = null;
    this.tlsProbe = null;
    this.tlsTrouble = null;
    if (this.reachableSince === null) this.reachableSince = Date.now();
    const since = this.outageStartedAt;
    if (since === null) return;
    this.outageStartedAt = null;
    const at = Date.now();
    this.logger.info?.(
      { location: this.location, downtimeMs: at - since },
      `session store ${this.location} reachable again after ${at - since} ms`,
    );
    this.emitSafely('reconnected', { at, downtimeMs: at - since });
  }

  /**
   * Records one attempt that did not reach the cluster (one member down, or
   * all of them). It restarts the settle clock; it is an outage only once
   * attempts have failed, with no answer in between, for the whole retry
   * budget (`unavailableTimeoutMs`).
   */
  noteFailedAttempt(error: Error): void {
    // "Resting" only says that member failed before: the failure that put it to rest says why.
    const failingAlready = this.failingSince !== null && this.lastError !== null;
    if (!(error instanceof MemberResting && failingAlready)) this.lastError = error;
    this.reachableSince = null;
    const now = Date.now();
    this.failingSince ??= now;
    this.probeTlsOnce(error);
    if (now - this.failingSince >= this.options.unavailableTimeoutMs)
      this.beginOutage(this.withTlsTrouble(this.lastError));
  }

  /** After a connection that could not be established to a TLS cluster: one handshake of our own, to learn why. */
  private probeTlsOnce(error: Error): void {
    const endpoints = this.options.endpoints.filter((e) => e.startsWith('https:')).slice(0, 3);
    if (this.tlsProbe !== null || endpoints.length === 0 || !/No connection established/i.test(error.message))
      return;
    const timeoutMs = Math.min(this.options.commandTimeoutMs, 2_000);
    this.tlsProbe = Promise.all(endpoints.map((e) => probeTls(e, this.options.tls, timeoutMs)))
      .then((verdicts) => {
        this.tlsTrouble = verdicts.find((v) => v !== null) ?? null;
      })
      .catch(() => undefined);
  }

  /** `error`, with what the TLS probe found when it found something. */
  private withTlsTrouble(error: Error | null): Error | null {
    if (this.tlsTrouble === null) return error;
    return new Error(
      `TLS: ${this.tlsTrouble}${error === null ? '' : `; the client said: ${error.message}`}`,
      {
        cause: error,
      },
    );
  }

  /** The first failure of an outage is logged and emitted; later ones are not. */
  private beginOutage(error: Error | null): void {
    this.reachableSince = null;
    if (this.closed || this.outageStartedAt !== null) return;
    this.outageStartedAt = Date.now();
    this.logger.warn(
      { location: this.location, err: error },
      `session store ${this.location} unreachable (${error?.message ?? 'no answer'}); retrying`,
    );
    this.emitSafely('outage', { at: this.outageStartedAt, error });
  }

  /** Resolves once settled (probing the cluster meanwhile), when closed, or when `signal` aborts. */
  async whenSettled(signal?: AbortSignal): Promise<void> {
    while (!this.settled && !this.closed && !signal?.aborted) {
      if (this.reachableSince === null) {
        // Nothing else may be calling: probe, so reachability is learnt rather than assumed.
        await this.call(() => this.client.maintenance.status()).catch(() => undefined);
        if (this.reachableSince === null) continue;
      }
      const left = this.options.settleMs - (Date.now() - (this.reachableSince ?? Date.now()));
      await pause(Math.max(10, Math.min(left + 5, 1_000)), signal);
      if (!this.closed && !signal?.aborted)
        await this.call(() => this.client.maintenance.status(), Date.now()).catch(() => undefined);
    }
  }

  /** Closes the client (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  /** Whether {@link Connection.close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

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
}

/** Waits `ms`, or until `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
