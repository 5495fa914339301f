// `session.etcd` of the config: the etcd cluster that holds the fleet's
// sessions (@core/session-etcd). Its schema, and the checks that span more
// than the block itself (the lease settings etcd counts in seconds, Redis
// settings beside it), live here so config.ts only wires them in. Nothing
// here loads the etcd client.
import path from 'node:path';
import { z } from 'zod';

/** A client URL as @core/session-etcd takes it: `http://host:2379`, `https://host:2379` or `host:2379`. */
const ENDPOINT =
  /^(?:(https?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})\/?$/;

const endpoint = z
  .string()
  .regex(ENDPOINT, 'a client URL like http://10.0.0.5:2379 (https:// for TLS, or host:port)')
  .refine((value) => {
    const port = Number(ENDPOINT.exec(value)?.[3]);
    return port >= 1 && port <= 65_535;
  }, 'a port from 1 to 65535');

const file = z.string().min(1, 'a file path');

/** Schema of `session.etcd`. */
export const etcdSessionSchema = z
  .object({
    /** Client URLs of the cluster's members (list every member): `https://10.0.0.5:2379`, `http://…` or `host:port`. CORE_SESSION_ETCD_ENDPOINTS wins over them. */
    endpoints: z.array(endpoint).min(1).max(64),
    /** Prefix of every key (default `core-session/`, ends with `/`): one fleet per prefix. */
    keyPrefix: z
      .string()
      .regex(
        /^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,98}\/$/,
        'a key prefix of 2-100 characters [A-Za-z0-9._/-] ending with "/", like core-session/prod/',
      )
      .optional(),
    /** TLS to the members (https endpoints): PEM files, read at start. `certFile` and `keyFile` go together. */
    tls: z
      .object({
        /** CA certificate(s) the members' certificates are checked against (default: the system's). */
        caFile: file.optional(),
        /** Client certificate, when the cluster asks for one. */
        certFile: file.optional(),
        /** The client certificate's private key. */
        keyFile: file.optional(),
      })
      .strict()
      .optional(),
    /** etcd user (with `passwordFile`), when the cluster has authentication enabled. */
    user: z.string().min(1).max(256).optional(),
    /** File holding the user's password (mode 0600 or 0400, read at start): the password itself is never in the config. */
    passwordFile: file.optional(),
  })
  .strict();

/** `session.etcd` as validated. */
export type EtcdSessionConfig = z.output<typeof etcdSessionSchema>;

/** The part of `session` the checks below read. */
export interface SessionSettings {
  readonly redisUrl?: string | undefined;
  readonly sentinels?: readonly unknown[] | undefined;
  readonly masterName?: string | undefined;
  readonly replicasToAck?: unknown;
  readonly replicaAckTimeoutMs?: number | undefined;
  readonly keyPrefix?: string | undefined;
  readonly fleetKeyFile?: string | undefined;
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
  readonly etcd?: EtcdSessionConfig | undefined;
}

/** Settings of `session` that only the Redis store reads. */
const REDIS_ONLY = [
  'sentinels',
  'masterName',
  'replicasToAck',
  'replicaAckTimeoutMs',
  'keyPrefix',
  'fleetKeyFile',
] as const;

/**
 * Why `leaseTtlMs` cannot be an etcd lease, or null. etcd grants leases in
 * whole seconds; rounding would silently change how long a dead host's
 * resources wait, so an odd value is refused with the two nearest that work.
 */
export function etcdLeaseIssue(leaseTtlMs: number): string | null {
  if (leaseTtlMs >= 1_000 && leaseTtlMs % 1_000 === 0) return null;
  const below = Math.max(1_000, Math.floor(leaseTtlMs / 1_000) * 1_000);
  const above = Math.max(2_000, Math.ceil(leaseTtlMs / 1_000) * 1_000);
  const choices = below === above || leaseTtlMs < 1_000 ? `${below}` : `${below} or ${above}`;
  return `session.leaseTtlMs: etcd counts lease TTLs in whole seconds, so with the etcd registry it must be a multiple of 1000 (at least 1000), got ${leaseTtlMs}: use ${choices}`;
}

/**
 * Problems of a config that uses the etcd registry (`session.etcd`), one line
 * each: the lease TTL, Redis settings beside it, and pairs that go together.
 * Empty without `session.etcd`.
 */
export function etcdConfigIssues(session: SessionSettings): string[] {
  const etcd = session.etcd;
  if (etcd === undefined) return [];
  const lines: string[] = [];
  if (session.redisUrl !== undefined)
    lines.push(
      'session: both session.redisUrl (Redis) and session.etcd (etcd) name a fleet registry; a fleet keeps its sessions in one: remove one of them',
    );
  for (const key of REDIS_ONLY)
    if (session[key] !== undefined)
      lines.push(
        `session.${key}: a setting of the Redis registry, unused with etcd${key === 'keyPrefix' ? ' (use session.etcd.keyPrefix)' : ''}: remove it`,
      );
  const lease = etcdLeaseIssue(session.leaseTtlMs);
  if (lease !== null) lines.push(lease);
  if ((etcd.user === undefined) !== (etcd.passwordFile === undefined))
    lines.push('session.etcd: "user" and "passwordFile" go together: give both or neither');
  if (etcd.tls !== undefined && (etcd.tls.certFile === undefined) !== (etcd.tls.keyFile === undefined))
    lines.push('session.etcd.tls: "certFile" and "keyFile" go together: give both or neither');
  const plain = etcd.endpoints.filter((e) => !e.startsWith('https://'));
  if (etcd.tls !== undefined && plain.length > 0)
    lines.push(
      `session.etcd.tls: TLS is configured but ${plain.map((e) => JSON.stringify(e)).join(', ')} ${plain.length === 1 ? 'is' : 'are'} not https:// (write every endpoint as https://host:port)`,
    );
  return lines;
}

/** `session.etcd` with its file paths resolved against `baseDir` (the config file's directory). */
export function resolveEtcdPaths(etcd: EtcdSessionConfig, baseDir: string): EtcdSessionConfig {
  const at = (file: string | undefined) => (file === undefined ? undefined : path.resolve(baseDir, file));
  const tls = etcd.tls;
  return {
    ...etcd,
    ...(tls === undefined
      ? {}
      : {
          tls: {
            ...(tls.caFile === undefined ? {} : { caFile: at(tls.caFile) }),
            ...(tls.certFile === undefined ? {} : { certFile: at(tls.certFile) }),
            ...(tls.keyFile === undefined ? {} : { keyFile: at(tls.keyFile) }),
          },
        }),
    ...(etcd.passwordFile === undefined ? {} : { passwordFile: at(etcd.passwordFile) }),
  };
}
