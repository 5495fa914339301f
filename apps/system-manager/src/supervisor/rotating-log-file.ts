import { constants, promises as fs, lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';

/** Limits of a {@link RotatingLogFile}. */
export interface RotationLimits {
  /** The file is rotated before it would grow past this many bytes. */
  readonly maxFileBytes: number;
  /** Rotated files kept (`<name>.1` newest … `<name>.<keepFiles>` oldest); older ones are deleted. */
  readonly keepFiles: number;
}

/** What the rotating log file of a service has written, shown in `/status` per service. */
export interface LogFileCounters {
  readonly bytes: number;
  readonly rotations: number;
  /** Bytes that could not be written (a full disk, an I/O error): counted and reported, never retried forever. */
  readonly lostBytes: number;
}

const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/**
 * The log file of one service: raw bytes in, written as they come — no
 * per-line work, so a service printing 100,000 lines/s costs the manager a
 * few writes of 64 KiB per second. As a Writable it gives the service's pipe
 * backpressure: when the disk is slower than the service, the service waits
 * on its own writes and no line is dropped.
 *
 * Rotated by size at a line boundary (the bytes up to the chunk's last
 * newline go to the old file), keeping `keepFiles` older files. Opened with
 * O_NOFOLLOW and mode 0600 in a directory made 0700: a planted symlink is
 * refused, not followed. Written with our own ~100 lines rather than a
 * rotating-stream library: the libraries add time-based rotation, gzip and
 * their own buffering, none of which this needs, and none opens with O_NOFOLLOW.
 */
export class RotatingLogFile extends Writable {
  private handle: fs.FileHandle | undefined;
  private size = 0;
  private counts = { bytes: 0, rotations: 0, lostBytes: 0 };

  /**
   * @param file - absolute path of the current file; its directory is created (0700) if missing
   * @param onError - told about a write or rotation that failed (the bytes are counted as lost)
   */
  constructor(
    readonly file: string,
    private readonly limits: RotationLimits,
    private readonly onError: (error: Error) => void,
  ) {
    // One chunk in flight at a time; the pipe holds the rest (its highWaterMark), then the service waits.
    super({ highWaterMark: 256 * 1024, decodeStrings: true });
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (lstatSync(path.dirname(file)).isSymbolicLink())
      throw new Error(`log directory ${path.dirname(file)} is a symbolic link: refusing to write through it`);
  }

  /** Counters since the file was opened by this manager. */
  counters(): LogFileCounters {
    return { ...this.counts };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunk(chunk, callback);
  }

  private writeChunk(chunk: Buffer, callback: (error?: Error | null) => void): void {
    this.append(chunk).then(
      () => callback(),
      (error: unknown) => {
        // A full disk must not end the service's output stream: count, report, carry on.
        this.counts.lostBytes += chunk.length;
        this.onError(error as Error);
        callback();
      },
    );
  }

  /** Chunks that queued up while a write was in flight go out as one write: fewer syscalls and thread-pool hops under a flood. */
  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    this.writeChunk(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.closeHandle().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.closeHandle().then(
      () => callback(error),
      () => callback(error),
    );
  }

  /**
   * Writes a chunk, rotating first wherever the file would grow past its
   * limit: at the last newline that still fits, so no line is split across
   * two files (a single line longer than the limit gets a file of its own).
   */
  private async append(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (this.size + rest.length > this.limits.maxFileBytes) {
      const room = this.limits.maxFileBytes - this.size;
      let cut = room > 0 ? rest.lastIndexOf(10, room - 1) + 1 : 0;
      if (cut === 0 && this.size === 0) cut = rest.indexOf(10) + 1 || rest.length;
      if (cut > 0) await this.writeAll(await this.open(), rest.subarray(0, cut));
      rest = rest.subarray(cut);
      if (rest.length === 0) return;
      await this.rotate();
    }
    await this.writeAll(await this.open(), rest);
  }

  /** Loops on short writes: a chunk is written whole or the error is thrown. */
  private async writeAll(handle: fs.FileHandle, data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
      this.size += bytesWritten;
      this.counts.bytes += bytesWritten;
    }
  }

  private async open(): Promise<fs.FileHandle> {
    if (this.handle) return this.handle;
    const handle = await fs.open(this.file, OPEN_FLAGS, 0o600);
    this.handle = handle;
    this.size = (await handle.stat()).size;
    return handle;
  }

  /** `<file>` → `<file>.1` → … → `<file>.<keepFiles>`; the oldest beyond that is deleted. */
  private async rotate(): Promise<void> {
    await this.closeHandle();
    const { keepFiles } = this.limits;
    await fs.rm(`${this.file}.${keepFiles}`, { force: true });
    for (let n = keepFiles - 1; n >= 1; n--)
      await renameIfPresent(`${this.file}.${n}`, `${this.file}.${n + 1}`);
    if (keepFiles > 0) await renameIfPresent(this.file, `${this.file}.1`);
    else await fs.rm(this.file, { force: true });
    this.size = 0;
    this.counts.rotations += 1;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
