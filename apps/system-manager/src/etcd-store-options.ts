// From the config and the env to the options of an EtcdSessionStore: which
// endpoints (CORE_SESSION_ETCD_ENDPOINTS wins over session.etcd.endpoints),
// the lease settings etcd accepts, and the TLS and password files, read
// here, at start, so a missing or unsafe file stops the run with the field
// that named it (exit 78) instead of failing every call later.
import { readFileSync } from 'node:fs';
import type { EtcdSessionStoreOptions } from '@core/session-etcd';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { etcdConfigIssues } from './etcd-config.js';
import { readSecretFile, SecretFileRefused } from './secret-file.js';

/** Env var that selects the fleet-wide etcd session registry (comma-separated client URLs; wins over `session.etcd.endpoints`). */
export const ETCD_ENDPOINTS_ENV = 'CORE_SESSION_ETCD_ENDPOINTS';

/** Whether the env selects the etcd registry (read without loading the etcd package). */
export function etcdFromEnv(env: NodeJS.ProcessEnv): boolean {
  const raw = env[ETCD_ENDPOINTS_ENV];
  return raw !== undefined && raw.trim() !== '';
}

/** Whether the config or the env selects the etcd registry. */
export function etcdSelected(config: SystemManagerConfig, env: NodeJS.ProcessEnv): boolean {
  return etcdFromEnv(env) || config.session.etcd !== undefined;
}

/** Options of the store, and which setting chose the endpoints (for messages). */
export interface EtcdStoreSettings {
  readonly options: Omit<EtcdSessionStoreOptions, 'logger'>;
  readonly source: string;
}

const invalid = (message: string, cause?: unknown) =>
  new ConfigError('E_CONFIG_INVALID', message, cause === undefined ? {} : { cause });

function readPem(field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw invalid(
      `${field}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a readable PEM file`,
      error,
    );
  }
}

function readPassword(file: string): string {
  let bytes: Buffer | undefined;
  try {
    bytes = readSecretFile(file, {
      minBytes: 1,
      maxBytes: 4096,
      sizeHint: 'a password file holds 1 to 4096 bytes',
    });
  } catch (error) {
    if (!(error instanceof SecretFileRefused)) throw error;
    throw invalid(`session.etcd.passwordFile: the password file ${file} ${error.message}`);
  }
  // `echo secret > file` adds a newline that is no part of the password.
  const password = (bytes as Buffer).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw invalid(`session.etcd.passwordFile: the password file ${file} is empty`);
  return password;
}

/**
 * The store's options. `endpointsFromEnv` is the package's
 * `etcdEndpointsFromEnv`, passed in so this module loads no etcd code.
 * @throws ConfigError E_CONFIG_INVALID (exit 78): bad endpoints in the env,
 *   a lease TTL etcd cannot grant, Redis settings beside it, an unreadable
 *   TLS file, an unsafe password file.
 */
export function etcdStoreSettings(
  config: SystemManagerConfig,
  env: NodeJS.ProcessEnv,
  endpointsFromEnv: (env: NodeJS.ProcessEnv) => string[] | undefined,
): EtcdStoreSettings {
  const etcd = config.session.etcd;
  let fromEnv: string[] | undefined;
  try {
    fromEnv = endpointsFromEnv(env);
  } catch (error) {
    throw invalid((error as Error).message, error);
  }
  const endpoints = fromEnv ?? etcd?.endpoints;
  const source = fromEnv !== undefined ? ETCD_ENDPOINTS_ENV : 'config session.etcd.endpoints';
  if (endpoints === undefined || endpoints.length === 0)
    throw invalid(
      `${ETCD_ENDPOINTS_ENV}: no endpoint given (comma-separated client URLs, like http://10.0.0.5:2379)`,
    );
  // The same checks as a config file's session.etcd, on the endpoints in force (the env's, when set).
  const issues = etcdConfigIssues({ ...config.session, etcd: { ...etcd, endpoints } });
  if (issues.length > 0)
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${source} selects the etcd registry, but: ${issues.join('; ')}`,
      { details: issues },
    );
  const tls = etcd?.tls;
  return {
    source,
    options: {
      endpoints,
      leaseTtlMs: config.session.leaseTtlMs,
      heartbeatMs: config.session.heartbeatMs,
      ...(etcd?.keyPrefix === undefined ? {} : { keyPrefix: etcd.keyPrefix }),
      ...(tls === undefined
        ? {}
        : {
            tls: {
              ...(tls.caFile === undefined ? {} : { ca: readPem('session.etcd.tls.caFile', tls.caFile) }),
              ...(tls.certFile === undefined
                ? {}
                : { cert: readPem('session.etcd.tls.certFile', tls.certFile) }),
              ...(tls.keyFile === undefined ? {} : { key: readPem('session.etcd.tls.keyFile', tls.keyFile) }),
            },
          }),
      ...(etcd?.user === undefined || etcd.passwordFile === undefined
        ? {}
        : { user: etcd.user, password: readPassword(etcd.passwordFile) }),
    },
  };
}
