import type { SessionLogger } from '@core/session';
import { checkHeartbeat, checkLogger, parseStoreOptions } from '@core/session/store';
import { z } from 'zod';
import { type Endpoint, parseEndpoint, type SentinelAddress } from './endpoint.js';
import { EntrySigner } from './signing.js';

/** Options of {@link RedisSessionStore} (also `RedisRegistryStoreOptions`). */
export interface RedisSessionStoreOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS), or
   * a group watched by Sentinel: `redis+sentinel://[[user]:password@]s1[:26379],s2,…/<master name>[/db]`
   * (`rediss+sentinel://` for TLS to the master). User and password are the
   * master's ACL credentials.
   */
  readonly url: string;
  /** Sentinels to ask for the master (with `masterName`): the URL then gives scheme, credentials and db only. */
  readonly sentinels?: readonly SentinelAddress[];
  /** The master's name in Sentinel (`sentinel monitor <name> …`). */
  readonly masterName?: string;
  /**
   * Replicas that must acknowledge a write that must not be lost (a record,
   * a claim) before it counts as done: `WAIT n` after it, and a write not
   * acknowledged within `replicaAckTimeoutMs` is an error to the caller
   * (`RedisStoreNotReplicatedError`), so nobody believes a VM is recorded
   * when a failover could still forget it. Default `'auto'`: the replicas
   * the master reports connected when the store connects (none: no WAIT).
   */
  readonly replicasToAck?: number | 'auto';
  /** How long a write waits for its replicas (default 1 000 ms). */
  readonly replicaAckTimeoutMs?: number;
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
   * an outage, counted from the latest moment their own reconnect may come
   * (default `leaseTtlMs + reconnectMaxDelayMs`: after a failover every
   * client reconnects on its own backoff, and a peer that is back first must
   * not judge an owner still waiting out its delay).
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
  /**
   * The fleet key (at least 32 bytes, the same on every member of the fleet):
   * every record, reaping mark and claim this store writes is signed with it
   * (HMAC-SHA256), and a value that does not verify is refused — skipped,
   * warned about once, never acted on — so a writer without the key cannot
   * direct a cleanup or hold a resource. Without a key any writer of the
   * store is trusted, as before.
   */
  readonly fleetKey?: Uint8Array;
}

/** Validated, defaulted options. */
export interface ResolvedRedisOptions {
  readonly url: string;
  readonly endpoint: Endpoint;
  readonly replicasToAck: number | 'auto';
  readonly replicaAckTimeoutMs: number;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
  readonly unavailableTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly settleMs: number;
  readonly legacyKeyPrefix: string | null;
  readonly hostScopedKinds: ReadonlySet<string>;
  /** Signs and checks entries; null without a fleet key. */
  readonly signer: EntrySigner | null;
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
        (value) => /^rediss?(\+sentinel)?:\/\/[^/]/.test(value),
        'a URL like redis://host:6379 (rediss:// for TLS, redis+sentinel://s1:26379,s2/<master name> for Sentinel)',
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
    sentinels: z
      .array(z.object({ host: z.string().min(1).max(255), port: z.number().int().min(1).max(65_535) }))
      .min(1)
      .optional(),
    masterName: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a master name of 1-64 [A-Za-z0-9._-]')
      .optional(),
    replicasToAck: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default('auto'),
    replicaAckTimeoutMs: ms(1).default(1_000),
    hostScopedKinds: z
      .array(z.string().regex(/^[a-z][a-z0-9._-]*$/, 'a lower-case resource kind'))
      .default(['port', 'process']),
  })
  .loose();

const CONTEXT = { store: 'RedisSessionStore' };

/** Validates the options (every error names the option and the bad value). @throws TypeError / RangeError */
export function resolveRedisOptions(options: RedisSessionStoreOptions): ResolvedRedisOptions {
  const value = parseStoreOptions(CONTEXT, schema, options);
  checkHeartbeat(CONTEXT.store, value.heartbeatMs, value.leaseTtlMs, 'beats');
  checkLogger(CONTEXT.store, options.logger);
  const { fleetKey: _key, sentinels, masterName, ...rest } = value as typeof value & { fleetKey?: unknown };
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(value.url, sentinels, masterName);
  } catch (error) {
    const message = `RedisSessionStore option "url": ${(error as Error).message}`;
    throw error instanceof RangeError ? new RangeError(message) : new TypeError(message);
  }
  return {
    ...rest,
    endpoint,
    settleMs: value.settleMs ?? value.leaseTtlMs + value.reconnectMaxDelayMs,
    hostScopedKinds: new Set(value.hostScopedKinds),
    signer: options.fleetKey === undefined ? null : new EntrySigner(options.fleetKey),
  };
}
