// Private-file primitives: every file of the session directory is read without
// following symlinks and written atomically (temp file in the same directory,
// fsync, rename, fsync of the directory), so a kill -9 at any instant leaves
// the old or the new content, never a torn file, and a symlink planted in
// place of a file is never followed.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SessionLogger } from './contract.js';
import { SessionDirUnsafeError, SessionWriteError } from './errors.js';
import { isProcessAlive } from './process.js';

const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
// A FIFO planted in place of a file must not block the open.
const O_NONBLOCK = fsConstants.O_NONBLOCK ?? 0;
const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

/** Result of reading a private file. */
export type PrivateRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'unsafe'; readonly reason: string };

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Creates `dir` (mode 0700) if missing and refuses it when it is a symlink,
 * not a directory, owned by another uid, or group/world-writable.
 *
 * @throws SessionDirUnsafeError
 */
export function ensurePrivateDir(dir: string): void {
  let stats = lstatOrNull(dir);
  if (stats === null) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    stats = lstatSync(dir);
  }
  if (stats.isSymbolicLink()) throw new SessionDirUnsafeError(dir, 'it is a symbolic link');
  if (!stats.isDirectory()) throw new SessionDirUnsafeError(dir, 'it is not a directory');
  if (typeof process.getuid === 'function') {
    const uid = process.getuid();
    if (stats.uid !== uid) {
      throw new SessionDirUnsafeError(dir, `it is owned by uid ${stats.uid}, not by this user (uid ${uid})`);
    }
    if ((stats.mode & 0o022) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new SessionDirUnsafeError(dir, `its mode is ${mode}, which lets other users write into it`);
    }
  }
}

function classifyOpenError(error: unknown): PrivateRead {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return { kind: 'missing' };
  if (code === 'ELOOP' || code === 'EMLINK') return { kind: 'unsafe', reason: 'it is a symbolic link' };
  throw error;
}

function checkOpened(path: string, stats: Stats): string | null {
  if (!stats.isFile()) return 'it is not a regular file';
  if (O_NOFOLLOW === 0 && lstatOrNull(path)?.isSymbolicLink()) return 'it is a symbolic link';
  return null;
}

/** Reads a file without following a symlink at its path. */
export function readPrivateFileSync(path: string): PrivateRead {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (error) {
    return classifyOpenError(error);
  }
  try {
    const problem = checkOpened(path, fstatSync(fd));
    if (problem !== null) return { kind: 'unsafe', reason: problem };
    return { kind: 'ok', text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** Async {@link readPrivateFileSync}. */
export async function readPrivateFile(path: string): Promise<PrivateRead> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (error) {
    return classifyOpenError(error);
  }
  try {
    const problem = checkOpened(path, await handle.stat());
    if (problem !== null) return { kind: 'unsafe', reason: problem };
    return { kind: 'ok', text: await handle.readFile('utf8') };
  } finally {
    await handle.close();
  }
}

// Temp names are unique per process by a counter behind a random prefix drawn
// once: drawing random bytes for every write cost more than a tenth of a
// record write's CPU time under contention (the bench's 8-process case).
// The file is opened with O_EXCL anyway, so a clash fails instead of sharing.
let tempPrefix = '';
let tempPrefixPid = 0;
let tempCounter = 0;

/** Name of a temp file beside `path`; the pid in it lets a later reaper remove leftovers of dead writers. */
export function tempPathFor(path: string): string {
  if (tempPrefixPid !== process.pid) {
    tempPrefix = randomBytes(4).toString('hex');
    tempPrefixPid = process.pid;
  }
  tempCounter = (tempCounter + 1) % 0x100000000;
  return join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${tempPrefix}${tempCounter.toString(16)}`,
  );
}

function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Directories cannot be opened/fsynced on every platform (Windows); the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Options of the atomic writers. */
export interface WriteOptions {
  /** fsync the data and the directory (default true): survives power loss, not only a process crash. */
  readonly fsync: boolean;
}

/**
 * Writes every byte of `data` to `fd`: `writeSync` may write fewer bytes than
 * asked (a nearly full disk, a file size limit) and says so only in its return
 * value; the next call then throws the real error (ENOSPC, EFBIG…).
 */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) {
    const written = writeSync(fd, data, offset, data.length - offset);
    if (written <= 0) {
      const error = new Error('write returned 0 bytes') as NodeJS.ErrnoException;
      error.code = 'EIO';
      throw error;
    }
    offset += written;
  }
}

/**
 * Writes `text` to `path` whole or not at all: temp file (`wx`, 0600), every
 * byte written, fsync, rename, fsync of the directory. On any error the
 * previous file is kept, the temp file removed, and a `SessionWriteError`
 * (`E_SESSION_WRITE_FAILED`, naming the file and errno) thrown.
 *
 * @throws SessionWriteError
 */
export function writePrivateFileSync(path: string, text: string, options: WriteOptions): void {
  const temp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o600);
    writeAllSync(fd, Buffer.from(text, 'utf8'));
    if (options.fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(temp);
    throw new SessionWriteError(path, error);
  }
  if (options.fsync) fsyncDirSync(dirname(path));
}

/**
 * Creates `path` with `text` only if it does not exist, atomically: the
 * content is written whole to a temp file first and hard-linked into place
 * (link(2) fails with EEXIST when the name exists), so the file never appears
 * empty or half-written.
 *
 * @returns false when `path` already exists.
 * @throws SessionWriteError when the file could not be written.
 */
export function createExclusiveFileSync(
  path: string,
  text: string,
  options: WriteOptions = { fsync: false },
): boolean {
  const temp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o600);
    writeAllSync(fd, Buffer.from(text, 'utf8'));
    if (options.fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    linkSync(temp, path);
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(temp);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SessionWriteError(path, error);
  }
  removeQuietly(temp);
  if (options.fsync) fsyncDirSync(dirname(path));
  return true;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the write error is what matters
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already renamed or never created
  }
}

/** fsync of a directory (after a rename or unlink in it), where the platform allows it. */
export function syncDirSync(dir: string): void {
  fsyncDirSync(dir);
}

/** Removes a file if it exists (a symlink is removed itself, never its target). */
/** Whether something (of any type, a symlink included, never followed) is at `path`; unreadable counts as absent. */
export function entryExistsSync(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function removeFileSync(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Moves a corrupt or foreign file aside to `<path>.corrupt-<epochms>` (kept for
 * inspection, never deleted) and warns once.
 *
 * @returns the new path, or null when the file had already gone.
 */
export function quarantineSync(path: string, reason: string, logger: SessionLogger): string | null {
  const stamp = Date.now();
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 1; lstatOrNull(target) !== null; n++) target = `${path}.corrupt-${stamp}-${n}`;
  try {
    renameSync(path, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  logger.warn(
    { file: path, movedTo: target, reason },
    `session file ${path} was unreadable (${reason}); kept it as ${target} and continued without it`,
  );
  return target;
}

const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Removes temp files left by writers that were killed between create and
 * rename: only when their pid is gone and the file is older than `minAgeMs`
 * (a directory shared between hosts cannot judge pids).
 *
 * @returns how many were removed.
 */
export function removeDeadTempFiles(dir: string, minAgeMs: number): number {
  let removed = 0;
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const match = TEMP_NAME.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid <= 0 || isProcessAlive(pid)) continue;
    const path = join(dir, name);
    const stats = lstatOrNull(path);
    if (stats === null || !stats.isFile() || now - stats.mtimeMs < minAgeMs) continue;
    if (removeFileSync(path)) removed++;
  }
  return removed;
}
