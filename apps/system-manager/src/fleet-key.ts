// The fleet key that signs the Redis registry's entries: read from a file an
// operator made (`head -c 32 /dev/urandom > key; chmod 600 key`) or from the
// systemd credential `fleet-key` (`LoadCredential=fleet-key:/etc/…`). The
// file is a secret: it must be private, a regular file, and not reached
// through a symlink; anything else is a config error, never a silent
// fallback to an unsigned store.
import path from 'node:path';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { readSecretFile, SecretFileRefused } from './secret-file.js';

/** Env var naming the fleet key file (wins over `session.fleetKeyFile`). */
export const FLEET_KEY_FILE_ENV = 'CORE_SESSION_FLEET_KEY_FILE';
/** Name of the systemd credential looked for in `$CREDENTIALS_DIRECTORY`. */
export const FLEET_KEY_CREDENTIAL = 'fleet-key';
const MIN_BYTES = 32;
const MAX_BYTES = 4096;

/** Where the key comes from, or null when none is configured. */
export function fleetKeySource(
  config: SystemManagerConfig,
  env: NodeJS.ProcessEnv,
): { readonly file: string; readonly from: string; readonly optional: boolean } | null {
  const fromEnv = env[FLEET_KEY_FILE_ENV];
  if (fromEnv !== undefined && fromEnv !== '')
    return { file: fromEnv, from: FLEET_KEY_FILE_ENV, optional: false };
  if (config.session.fleetKeyFile !== undefined)
    return { file: config.session.fleetKeyFile, from: 'config session.fleetKeyFile', optional: false };
  const credentials = env['CREDENTIALS_DIRECTORY'];
  if (credentials !== undefined && path.isAbsolute(credentials))
    return {
      file: path.join(credentials, FLEET_KEY_CREDENTIAL),
      from: `systemd credential ${FLEET_KEY_CREDENTIAL}`,
      optional: true,
    };
  return null;
}

/**
 * The fleet key bytes, or undefined when none is configured.
 * @throws ConfigError E_CONFIG_INVALID (exit 78) when the configured file is missing, unsafe or too short.
 */
export function loadFleetKey(config: SystemManagerConfig, env: NodeJS.ProcessEnv): Uint8Array | undefined {
  const source = fleetKeySource(config, env);
  if (source === null) return undefined;
  try {
    return readSecretFile(source.file, {
      minBytes: MIN_BYTES,
      maxBytes: MAX_BYTES,
      sizeHint: `a key has ${MIN_BYTES} to ${MAX_BYTES} (head -c 32 /dev/urandom)`,
      optional: source.optional,
    });
  } catch (error) {
    if (!(error instanceof SecretFileRefused)) throw error;
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${source.from}: the fleet key file ${source.file} ${error.message}`,
    );
  }
}
