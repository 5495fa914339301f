// A logdir as s6-log keeps it: `current` is being written, `@<TAI64N>.s`
// files were rotated whole, `@<TAI64N>.u` ones were `current` when a writer
// was killed; the names sort in time order. Every line starts with the
// TAI64N stamp of the moment the writer read it (`@` + 24 hex digits + a
// space), which orders a service's stdout and stderr lines against each
// other. Read here with O_NOFOLLOW, synchronously and bounded: error reports
// need the last lines from synchronous code, and the reads are of files a
// writer of ours just wrote (the page cache).
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  unlinkSync,
} from 'node:fs';
import path from 'node:path';
import { SystemManagerError } from '../errors.js';

/** A log path that is not this manager's own: a symlink, not a directory (or pipe), another uid's. */
export class LogDirUnsafeError extends SystemManagerError<'E_LOG_DIR_UNSAFE'> {
  /** @param message - the path and what is wrong with it */
  constructor(message: string) {
    super('E_LOG_DIR_UNSAFE', message);
  }
}

const ARCHIVE = /^@[0-9a-f]{24}\.[su]$/;
const STAMP = /^@[0-9a-f]{24} /;
const STAMP_LENGTH = 26;
const BLOCK = 64 * 1024;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

/** One line of a logdir: its writer's stamp (empty if it has none) and its text. */
export interface StampedLine {
  readonly stamp: string;
  readonly text: string;
}

/** Files s6-log opens by name in a logdir (it would follow a symlink at any of them). */
const WRITER_FILES = ['current', 'lock', 'state', 'previous', 'processed', 'newstate'];

/**
 * Makes `root` a directory (created 0700 if missing; refused if it is a
 * symlink), then each of `dirs` (parents first, all under `root`, all ours)
 * a real directory of this uid, mode 0700. A symlink planted in place of
 * one of `dirs`, or of a file a writer opens by name in one of them, is
 * removed (unlink never follows it) and reported.
 * @throws LogDirUnsafeError when a path is not ours to make so (other errors: what the file system said)
 */
export function preparePrivateDirs(
  root: string,
  dirs: readonly string[],
  onRemoved: (planted: string) => void,
): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if (lstatSync(root).isSymbolicLink())
    throw new LogDirUnsafeError(`log directory ${root} is a symbolic link: refusing to write through it`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const stats = lstatSync(dir);
      if (stats.isSymbolicLink() && attempt === 0) {
        unlinkSync(dir);
        onRemoved(dir);
        continue;
      }
      if (!stats.isDirectory())
        throw new LogDirUnsafeError(`${dir} is not a directory: refusing to write logs there`);
      if (uid !== null && stats.uid !== uid)
        throw new LogDirUnsafeError(`${dir} belongs to uid ${stats.uid}, not to this process (uid ${uid})`);
      // Ours and not a symlink (checked just above): closing it to others follows nothing.
      if ((stats.mode & 0o077) !== 0) chmodSync(dir, 0o700);
      break;
    }
  }
  for (const dir of dirs)
    for (const name of WRITER_FILES) {
      const file = path.join(dir, name);
      let planted = false;
      try {
        planted = lstatSync(file).isSymbolicLink();
      } catch {
        // absent
      }
      if (planted) {
        unlinkSync(file);
        onRemoved(file);
      }
    }
}

/** The files of a logdir, oldest first: the archives by their stamps, then `current`. */
export function logdirFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const archives = names
    .filter((n) => ARCHIVE.test(n))
    .sort((a, b) => a.slice(1, 25).localeCompare(b.slice(1, 25)));
  const current = names.includes('current') ? ['current'] : [];
  return [...archives, ...current].map((n) => path.join(dir, n));
}

/** A raw line split into its stamp and text. */
export function stampedLine(raw: string): StampedLine {
  return STAMP.test(raw)
    ? { stamp: raw.slice(1, 25), text: raw.slice(STAMP_LENGTH) }
    : { stamp: '', text: raw };
}

/**
 * The last `count` lines of a logdir (oldest first), from `current` and then
 * the archives before it while more are wanted, reading at most `maxBytes`.
 */
export function tailOfLogdir(dir: string, count: number, maxBytes: number): StampedLine[] {
  let lines: StampedLine[] = [];
  let budget = maxBytes;
  const files = logdirFiles(dir);
  for (let i = files.length - 1; i >= 0 && lines.length < count && budget > 0; i--) {
    const read = tailOfFile(files[i] as string, count - lines.length, budget);
    budget -= read.bytes;
    lines = [...read.lines.map(stampedLine), ...lines];
  }
  return lines;
}

/** The last `count` lines of one file, reading backwards at most `maxBytes` (a file rotated away meanwhile reads as empty). */
function tailOfFile(file: string, count: number, maxBytes: number): { lines: string[]; bytes: number } {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch {
    return { lines: [], bytes: 0 };
  }
  try {
    const { size } = fstatSync(fd);
    let position = size;
    let text = '';
    let bytes = 0;
    // One newline more than wanted, so the first line is whole.
    while (position > 0 && bytes < maxBytes && newlines(text) <= count) {
      const length = Math.min(BLOCK, position, maxBytes - bytes);
      position -= length;
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, position);
      bytes += length;
      text = buffer.toString('utf8') + text;
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (position > 0) lines.shift();
    return { lines: lines.slice(-count), bytes };
  } finally {
    closeSync(fd);
  }
}

function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Lines of several streams in the order their writers stamped them (stable: on equal stamps, the earlier stream first). */
export function mergeByStamp(streams: readonly (readonly StampedLine[])[]): StampedLine[] {
  const all = streams.flatMap((lines, stream) => lines.map((line, index) => ({ line, stream, index })));
  all.sort((a, b) => a.line.stamp.localeCompare(b.line.stamp) || a.stream - b.stream || a.index - b.index);
  return all.map((entry) => entry.line);
}

/** Longest partial line a follower holds while waiting for its newline. */
const MAX_PENDING = 64 * 1024;
/** Most a follower reads in one poll (the rest comes with the next). */
const MAX_READ_PER_POLL = 1024 * 1024;

/**
 * `tail -F` of a logdir's `current` for `logs -f`: each poll reads what was
 * appended since the last; when the writer rotated, the rest of the old file
 * (still open here) is read before the new `current`.
 */
export class LogdirFollower {
  private fd: number | null = null;
  private offset = 0;
  private pending = '';

  constructor(
    private readonly dir: string,
    private readonly onLine: (line: StampedLine) => void,
  ) {
    // Following starts at the end: what is there already is for `logs -n`.
    this.open(true);
  }

  /** Reads what is new; never throws (a file that vanished is opened again next time). */
  poll(): void {
    try {
      if (this.fd === null) this.open(false);
      if (this.fd === null) return;
      this.drain();
      let replaced = false;
      try {
        replaced = lstatSync(path.join(this.dir, 'current')).ino !== fstatSync(this.fd).ino;
      } catch {
        replaced = true;
      }
      if (replaced) {
        this.drain();
        this.close();
        this.open(false);
        if (this.fd !== null) this.drain();
      }
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private open(atEnd: boolean): void {
    try {
      this.fd = openSync(path.join(this.dir, 'current'), READ_FLAGS);
      this.offset = atEnd ? fstatSync(this.fd).size : 0;
    } catch {
      this.fd = null;
    }
  }

  private drain(): void {
    if (this.fd === null) return;
    let read = 0;
    const buffer = Buffer.alloc(BLOCK);
    while (read < MAX_READ_PER_POLL) {
      const n = readSync(this.fd, buffer, 0, BLOCK, this.offset);
      if (n === 0) break;
      this.offset += n;
      read += n;
      const lines = (this.pending + buffer.toString('utf8', 0, n)).split('\n');
      this.pending = lines.pop() ?? '';
      if (this.pending.length > MAX_PENDING) {
        lines.push(this.pending);
        this.pending = '';
      }
      for (const line of lines) this.onLine(stampedLine(line));
    }
  }
}
