import type { SessionLogger } from '@core/session';
import { z } from 'zod';

/** Options of {@link RedisSessionStore} (also `RedisRegistryStoreOptions`). */
export interface RedisSessionStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). */
  readonly url: string;
  /**
   * Prefix of every key the store uses (default `{core-session}:`); one fleet
   * per prefix. It must contain a Redis Cluster hash tag (`{…}`): scripts that
   * touch several sessions' keys (take-overs, claims) need them in one slot.
   */
  readonly keyPrefix?: string;
  /** Lifetime of a session's lease without a heartbeat (default 30 000 ms). */
  readonly leaseTtlMs?: number;
  /** How often the owner refreshes its lease (default 10 000 ms; must be below `leaseTtlMs`). */
  readonly heartbeatMs?: number;
  /**
   * How long a call waits for the server, across reconnects, before
   * `RedisStoreUnavailableError` (default 10 000 ms).
   */
  readonly unavailableTimeoutMs?: number;
  /** A command without a reply for this long counts as a lost connection (default 5 000 ms). */
  readonly commandTimeoutMs?: number;
  /** Upper bound of the reconnect backoff (default 2 000 ms; it starts at 50 ms and doubles). */
  readonly reconnectMaxDelayMs?: number;
  /**
   * After (re)connecting, expired leases read as `settling` (never reaped)
   * for this long, so owners get one lease TTL to re-establish theirs after
   * an outage (default `leaseTtlMs`).
   */
  readonly settleMs?: number;
  /**
   * Resource kinds whose ids are unique per host, not fleet-wide: a `port`
   * `127.0.0.1:8010` on one machine does not take it on another. In
   * `claimResources` only same-host sessions count for these kinds (claims are keyed by host identity).
   * Default `['port', 'process']`.
   */
  readonly hostScopedKinds?: readonly string[];
  /**
   * Prefix of a v1 store (one fleet-wide hash) to import once, when the first
   * manager connects (default `core-session:`, the v1 default; `null`: never).
   * The v1 keys are left in place.
   */
  readonly legacyKeyPrefix?: string | null;
  /** Where the outage, reconnection and lease-renewal messages go (pino fits); default silent. */
  readonly logger?: SessionLogger;
}

/** Validated, defaulted options. */
export interface ResolvedRedisOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
  readonly unavailableTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly settleMs: number;
  readonly legacyKeyPrefix: string | null;
  readonly hostScopedKinds: ReadonlySet<string>;
}

const ms = (min: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(2 ** 31 - 1);

const schema = z
  .object({
    url: z
      .string()
      .refine(
        (value) => /^rediss?:\/\/[^/]/.test(value),
        'a URL like redis://host:6379 (or rediss:// for TLS)',
      ),
    keyPrefix: z
      .string()
      .regex(
        /^[^\s{}]*\{[^\s{}]+\}[^\s{}]*$/,
        'a key prefix of 1-100 characters without spaces that holds one Redis Cluster hash tag, like {core-session}:',
      )
      .max(100)
      .default('{core-session}:'),
    leaseTtlMs: ms(100).default(30_000),
    heartbeatMs: ms(10).default(10_000),
    unavailableTimeoutMs: ms(0).default(10_000),
    commandTimeoutMs: ms(10).default(5_000),
    reconnectMaxDelayMs: ms(10).default(2_000),
    settleMs: ms(0).optional(),
    legacyKeyPrefix: z
      .string()
      .regex(/^[^\s]{1,100}$/, 'a key prefix of 1-100 characters without spaces, or null')
      .nullable()
      .default('core-session:'),
    hostScopedKinds: z
      .array(z.string().regex(/^[a-z][a-z0-9._-]*$/, 'a lower-case resource kind'))
      .default(['port', 'process']),
  })
  .loose();

/** Validates the options (every error names the option and the bad value). @throws TypeError / RangeError */
export function resolveRedisOptions(options: RedisSessionStoreOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`RedisSessionStore options must be an object, got ${JSON.stringify(options)}`);
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(options)';
    const value = issue?.path.reduce<unknown>(
      (at, key) => (at as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey],
      options,
    );
    const message = `RedisSessionStore option "${field}": expected ${issue?.message ?? 'a valid value'}, got ${JSON.stringify(value)}`;
    throw issue?.code === 'too_small' || issue?.code === 'too_big'
      ? new RangeError(message)
      : new TypeError(message);
  }
  const value = parsed.data;
  if (value.heartbeatMs >= value.leaseTtlMs) {
    throw new RangeError(
      `RedisSessionStore option "heartbeatMs" (${value.heartbeatMs}) must be below "leaseTtlMs" (${value.leaseTtlMs}); ` +
        'a third of the TTL leaves room for two missed beats',
    );
  }
  if (options.logger !== undefined && typeof options.logger.warn !== 'function')
    throw new TypeError('RedisSessionStore option "logger" must have a warn(obj, msg) method');
  return {
    ...value,
    settleMs: value.settleMs ?? value.leaseTtlMs,
    hostScopedKinds: new Set(value.hostScopedKinds),
  };
}

/** `redis://host:port/db` with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<unparsable redis url>';
  }
}
