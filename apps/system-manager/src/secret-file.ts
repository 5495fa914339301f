// Reading a secret from a file an operator made (the fleet key, the etcd
// password): it must be a regular file reached without a symlink, readable
// by nobody but its owner, owned by this user or root, and of a plausible
// size. Anything else is refused with what to do — never a silent fallback
// to running without the secret.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { SystemManagerError } from './errors.js';

/** Why a secret file was refused: the phrase that follows the file's name in a message. */
export class SecretFileRefused extends SystemManagerError<'E_SECRET_FILE_REFUSED'> {
  constructor(why: string) {
    super('E_SECRET_FILE_REFUSED', why);
  }
}

/** Bounds of a secret file. */
export interface SecretFileLimits {
  readonly minBytes: number;
  readonly maxBytes: number;
  /** What to say when the size is out of bounds, e.g. `a key has 32 to 4096 (head -c 32 /dev/urandom)`. */
  readonly sizeHint: string;
  /** A missing file reads as undefined instead of being refused. */
  readonly optional?: boolean;
}

/**
 * The file's bytes, checked on the open descriptor (no race with a swap of
 * the path); undefined when it is missing and `optional`.
 * @throws SecretFileRefused saying what is wrong and how to fix it
 */
export function readSecretFile(file: string, limits: SecretFileLimits): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && limits.optional === true) return undefined;
    if (code === 'ELOOP') throw new SecretFileRefused('is a symbolic link: not followed');
    throw new SecretFileRefused(`cannot be opened (${code ?? (error as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new SecretFileRefused('is not a regular file');
    if ((stats.mode & 0o077) !== 0)
      throw new SecretFileRefused(
        `is readable or writable by others (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it`,
      );
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0)
      throw new SecretFileRefused(`is owned by uid ${stats.uid}, neither this user (${uid}) nor root`);
    if (stats.size < limits.minBytes || stats.size > limits.maxBytes)
      throw new SecretFileRefused(`holds ${stats.size} bytes: ${limits.sizeHint}`);
    const bytes = Buffer.alloc(stats.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read < limits.minBytes) throw new SecretFileRefused(`gave only ${read} bytes`);
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
