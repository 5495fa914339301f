// The fleet key that signs the Redis registry's entries: read from a file an
// operator made (`head -c 32 /dev/urandom > key; chmod 600 key`) or from the
// systemd credential `fleet-key` (`LoadCredential=fleet-key:/etc/…`). The
// file is a secret: it must be private, a regular file, and not reached
// through a symlink; anything else is a config error, never a silent
// fallback to an unsigned store.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';

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
  const refuse = (why: string) =>
    new ConfigError('E_CONFIG_INVALID', `${source.from}: the fleet key file ${source.file} ${why}`);
  let fd: number;
  try {
    fd = openSync(source.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && source.optional) return undefined;
    if (code === 'ELOOP') throw refuse('is a symbolic link: not followed');
    throw refuse(`cannot be opened (${code ?? (error as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse('is not a regular file');
    if ((stats.mode & 0o077) !== 0)
      throw refuse(
        `is readable or writable by others (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it`,
      );
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0)
      throw refuse(`is owned by uid ${stats.uid}, neither this user (${uid}) nor root`);
    if (stats.size < MIN_BYTES || stats.size > MAX_BYTES)
      throw refuse(
        `holds ${stats.size} bytes: a key has ${MIN_BYTES} to ${MAX_BYTES} (head -c 32 /dev/urandom)`,
      );
    const key = Buffer.alloc(stats.size);
    let read = 0;
    while (read < key.length) {
      const n = readSync(fd, key, read, key.length - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read < MIN_BYTES) throw refuse(`gave only ${read} bytes`);
    return key.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
