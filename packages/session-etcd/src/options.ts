import { readFileSync } from 'node:fs';
import type { SessionLogger } from '@core/session';
import { checkHeartbeat, checkLogger, parseStoreOptions } from '@core/session/store';
import { z } from 'zod';
import { parseEndpoint } from './endpoints.js';

/** TLS material: each entry is a file path (read once, when the store is made) or the PEM bytes themselves. */
export interface EtcdTlsOptions {
  /** CA certificate(s) the members' certificates are checked against. */
  readonly ca?: string | Uint8Array;
  /** Client certificate (with `key`), when the cluster requires client certificates. */
  readonly cert?: string | Uint8Array;
  /** The client certificate's private key. */
  readonly key?: string | Uint8Array;
}

/** Options of {@link EtcdSessionStore}. */
export interface EtcdSessionStoreOptions {
  /**
   * The cluster's client URLs: `http://host:2379`, `https://host:2379` (TLS)
   * or `host:2379`. Every member should be listed: a call that a member does
   * not answer goes to another one. See `etcdEndpointsFromEnv` for
   * `CORE_SESSION_ETCD_ENDPOINTS`.
   */
  readonly endpoints: readonly string[];
  /** TLS to the members (https endpoints): CA, and client certificate + key when the cluster asks for them. */
  readonly tls?: EtcdTlsOptions;
  /** etcd user (with `password`), when the cluster has authentication enabled. */
  readonly user?: string;
  /** Password of `user`. */
  readonly password?: string;
  /** Prefix of every key the store uses (default `core-session/`); one fleet per prefix. Ends with `/`. */
  readonly keyPrefix?: string;
  /**
   * Lifetime of a session's lease without a keepalive (default 30 000 ms).
   * etcd counts leases in whole seconds: a multiple of 1 000. The cluster may
   * grant more than asked (its minimum is 1.5 election timeouts); the store
   * keeps the TTL the server granted.
   */
  readonly leaseTtlMs?: number;
  /** How often the owner sends a keepalive (default 10 000 ms; must be below `leaseTtlMs`). */
  readonly heartbeatMs?: number;
  /** How long a call waits for the cluster, across retries and members, before `EtcdStoreUnavailableError` (default 10 000 ms). */
  readonly unavailableTimeoutMs?: number;
  /** A request without a reply for this long counts as lost and is tried again on another member (default 3 000 ms). */
  readonly commandTimeoutMs?: number;
  /**
   * After (re)connecting, absent leases read as `settling` (never reaped)
   * for this long, so owners that lost the cluster at the same time get one
   * lease TTL to re-establish theirs (default `leaseTtlMs`).
   */
  readonly settleMs?: number;
  /** Kinds whose ids are unique per host, not fleet-wide (default `['port', 'process']`): their claims are keyed by host identity. */
  readonly hostScopedKinds?: readonly string[];
  /** Where outage, lease and corrupt-entry messages go (pino fits); default silent. */
  readonly logger?: SessionLogger;
}

/** TLS material as bytes. */
export interface ResolvedTls {
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

/** Validated, defaulted options. */
export interface ResolvedEtcdOptions {
  readonly endpoints: readonly string[];
  readonly tls: ResolvedTls | null;
  readonly auth: { readonly user: string; readonly password: string } | null;
  readonly keyPrefix: string;
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
  readonly unavailableTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly settleMs: number;
  readonly hostScopedKinds: ReadonlySet<string>;
}

const ms = (min: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(2 ** 31 - 1);

const pem = z.union([z.string().min(1), z.instanceof(Uint8Array)]).optional();

const schema = z
  .object({
    endpoints: z.array(z.string()).min(1).max(64),
    tls: z.object({ ca: pem, cert: pem, key: pem }).strict().optional(),
    user: z.string().min(1).max(256).optional(),
    password: z.string().max(4096).optional(),
    keyPrefix: z
      .string()
      .regex(
        /^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,98}\/$/,
        'a key prefix of 2-100 [A-Za-z0-9._/-] ending with "/"',
      )
      .default('core-session/'),
    leaseTtlMs: ms(1_000)
      .refine((value) => value % 1_000 === 0, 'whole seconds (a multiple of 1000): etcd leases count seconds')
      .default(30_000),
    heartbeatMs: ms(10).default(10_000),
    unavailableTimeoutMs: ms(0).default(10_000),
    commandTimeoutMs: ms(50).default(3_000),
    settleMs: ms(0).optional(),
    hostScopedKinds: z
      .array(z.string().regex(/^[a-z][a-z0-9._-]*$/, 'a lower-case resource kind'))
      .default(['port', 'process']),
  })
  .loose();

const CONTEXT = { store: 'EtcdSessionStore', hidden: ['password'] };

/** Validates the options (every error names the option and the bad value). @throws TypeError / RangeError */
export function resolveEtcdOptions(options: EtcdSessionStoreOptions): ResolvedEtcdOptions {
  const value = parseStoreOptions(CONTEXT, schema, options);
  const endpoints = value.endpoints.map((endpoint, index) => {
    try {
      return parseEndpoint(endpoint);
    } catch (error) {
      throw new TypeError(`EtcdSessionStore option "endpoints.${index}": ${(error as Error).message}`);
    }
  });
  if (new Set(endpoints.map((e) => e.startsWith('https:'))).size > 1)
    throw new TypeError(
      `EtcdSessionStore option "endpoints": mixes http:// and https:// (${JSON.stringify(value.endpoints)}); one cluster speaks one of them`,
    );
  checkHeartbeat(CONTEXT.store, value.heartbeatMs, value.leaseTtlMs, 'keepalives');
  if ((value.user === undefined) !== (value.password === undefined))
    throw new TypeError('EtcdSessionStore options "user" and "password" go together: give both or neither');
  checkLogger(CONTEXT.store, options.logger);
  const tls = value.tls === undefined ? null : resolveTls(value.tls as EtcdTlsOptions);
  if (tls !== null && (tls.cert === null) !== (tls.key === null))
    throw new TypeError(
      'EtcdSessionStore options "tls.cert" and "tls.key" go together: give both or neither',
    );
  return {
    endpoints,
    tls,
    auth: value.user === undefined ? null : { user: value.user, password: value.password as string },
    keyPrefix: value.keyPrefix,
    leaseTtlMs: value.leaseTtlMs,
    heartbeatMs: value.heartbeatMs,
    unavailableTimeoutMs: value.unavailableTimeoutMs,
    commandTimeoutMs: value.commandTimeoutMs,
    settleMs: value.settleMs ?? value.leaseTtlMs,
    hostScopedKinds: new Set(value.hostScopedKinds),
  };
}

function resolveTls(tls: EtcdTlsOptions): ResolvedTls {
  const read = (field: keyof EtcdTlsOptions): Buffer | null => {
    const source = tls[field];
    if (source === undefined) return null;
    if (typeof source !== 'string') return Buffer.from(source);
    try {
      return readFileSync(source);
    } catch (error) {
      throw new TypeError(
        `EtcdSessionStore option "tls.${field}": cannot read ${JSON.stringify(source)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a readable PEM file or its bytes`,
      );
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}
