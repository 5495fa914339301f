// One stream of one service written to its logdir by an s6-log process of
// its own: the service writes into a pipe, s6-log reads it and writes the
// files, and no byte passes through the manager. The manager holds both
// ends of the pipe without ever reading or writing: the read end so that a
// writer that dies is replaced by one reading the very same pipe (the
// service never sees a broken pipe, and what is still in it is kept), the
// write end so that each process of the service (restarts) gets the same
// pipe. Closing both at the end lets the writer read to the end of the pipe
// and exit once the service is gone: nothing is left unwritten.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readProcessStartTime } from '@core/session';
import type { Logger } from '../logger.js';
import { LogDirUnsafeError } from './logdir.js';
import type { RotationLimits } from './rotating-log-file.js';

const execFileAsync = promisify(execFile);

/** A line longer than this gets a newline inserted by s6-log (every byte still kept): its memory stays bounded. */
export const WRITER_LINE_LIMIT = 1024 * 1024;
/** s6-log's own bounds of a file's size (`s` directive). */
const MIN_FILE_BYTES = 4_096;
const MAX_FILE_BYTES = 268_435_455;
/** How long a writer may take to read the rest of the pipe once the service is gone, before it is told to stop. */
const DRAIN_TIMEOUT_MS = 5_000;
/** How long a writer told to stop may wait for the end of its last line (a process that holds the pipe and never ends it) before SIGKILL. */
const STOP_TIMEOUT_MS = 2_000;
/** Restart backoff of a writer that keeps exiting. */
const RESTART_DELAY_MIN_MS = 100;
const RESTART_DELAY_MAX_MS = 5_000;
/** A writer that ran this long resets the backoff. */
const STABLE_AFTER_MS = 10_000;

/** What `/status` shows of one writer. */
export interface LogWriterStatus {
  readonly stream: 'stdout' | 'stderr';
  readonly dir: string;
  readonly pid: number | null;
  /** Times it exited while the service's output was open, and was started again. */
  readonly restarts: number;
}

export interface LogWriterOptions {
  readonly program: string;
  /** The logdir (a private directory, see preparePrivateDirs). */
  readonly dir: string;
  readonly stream: 'stdout' | 'stderr';
  readonly service: string;
  readonly limits: RotationLimits;
  readonly log: Logger;
}

/** s6-log's arguments: blocking mode (the service waits for the disk, nothing is dropped), size and count, a stamp per line. */
export function writerArguments(dir: string, limits: RotationLimits): string[] {
  const size = Math.min(MAX_FILE_BYTES, Math.max(MIN_FILE_BYTES, limits.maxFileBytes));
  return ['-b', '-l', String(WRITER_LINE_LIMIT), `n${limits.keepFiles}`, `s${size}`, 't', dir];
}

/** A supervised s6-log process reading one pipe into one logdir. */
export class LogWriter {
  private child: ChildProcess | undefined;
  private childStartTime: string | null = null;
  private startedAt = 0;
  private restarts = 0;
  private consecutiveFailures = 0;
  private closing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: LogWriterOptions,
    private readonly readEnd: fs.FileHandle,
    private readonly writeEnd: fs.FileHandle,
  ) {}

  /**
   * Makes the pipe (a FIFO created in the logdir's parent, opened at both
   * ends and removed at once) and starts the writer on it.
   */
  static async open(options: LogWriterOptions): Promise<LogWriter> {
    const fifo = path.join(path.dirname(options.dir), `.${options.stream}-${randomUUID()}.fifo`);
    await execFileAsync('mkfifo', ['-m', '600', fifo]);
    let readEnd: fs.FileHandle | undefined;
    try {
      // The read end first and non-blocking, so opening the write end (blocking, as a service's stdout must be) returns at once.
      readEnd = await fs.open(fifo, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      if (!(await readEnd.stat()).isFIFO())
        throw new LogDirUnsafeError(`${fifo} is not the pipe this manager made`);
      const writeEnd = await fs.open(fifo, constants.O_WRONLY | constants.O_NOFOLLOW);
      const writer = new LogWriter(options, readEnd, writeEnd);
      writer.start();
      return writer;
    } catch (error) {
      await readEnd?.close();
      throw error;
    } finally {
      await fs.rm(fifo, { force: true });
    }
  }

  /** The descriptor a process of the service gets as this stream. */
  get fd(): number {
    return this.writeEnd.fd;
  }

  status(): LogWriterStatus {
    return {
      stream: this.options.stream,
      dir: this.options.dir,
      pid: this.child?.exitCode === null && this.child.signalCode === null ? (this.child.pid ?? null) : null,
      restarts: this.restarts,
    };
  }

  /**
   * The service is gone for good: our ends of the pipe are closed, and the
   * writer reads the rest and exits at its end. One that does not within a
   * few seconds (a process of the service that still holds the pipe) is
   * sent SIGTERM — after checking it is still the process we started — and
   * writes its last line before it exits; SIGKILL if that line never ends.
   */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    clearTimeout(this.restartTimer);
    // A writer that was down (waiting to be restarted) is started once more to write what the pipe holds.
    if (!this.running()) this.start();
    this.closing = true;
    await Promise.allSettled([this.writeEnd.close(), this.readEnd.close()]);
    const done = this.exited;
    const timers = [
      setTimeout(() => this.signalIfOurs('SIGTERM'), DRAIN_TIMEOUT_MS),
      setTimeout(() => this.signalIfOurs('SIGKILL'), DRAIN_TIMEOUT_MS + STOP_TIMEOUT_MS),
    ];
    await done;
    for (const timer of timers) clearTimeout(timer);
  }

  private running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private start(): void {
    const { program, dir, limits, log, service, stream } = this.options;
    let child: ChildProcess;
    try {
      // umask 077: s6-log creates its files with 0644 masked by it (0600; rotated ones 0700: the x bit is its "finished" mark).
      child = spawn(
        '/bin/sh',
        ['-c', 'umask 077 && exec "$0" "$@"', program, ...writerArguments(dir, limits)],
        {
          // Its own process group: a Ctrl-C meant for the manager does not cut the writer off mid-pipe.
          detached: true,
          stdio: [this.readEnd.fd, 'ignore', 'pipe'],
        },
      );
    } catch (error) {
      log.error({ err: error, service, stream }, `cannot start the log writer of ${service} ${stream}`);
      this.scheduleRestart();
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    this.childStartTime = child.pid === undefined ? null : readProcessStartTime(child.pid);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        try {
          this.onExit(child, code, signal);
        } catch (error) {
          log.error({ err: error, service, stream }, 'handling a log writer exit failed');
        }
        resolve();
      });
    });
    child.on('error', (error) => log.warn({ err: error, service, stream }, 'log writer process error'));
    // s6-log's own warnings (a failed write, a line cut): a few lines, into the manager's log.
    let said = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      said = (said + chunk.toString('utf8')).slice(-4096);
      const lines = said.split('\n');
      said = lines.pop() ?? '';
      for (const line of lines)
        if (line !== '') log.warn({ service, stream, writer: line }, 'log writer says');
    });
    child.stderr?.on('error', () => {});
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || this.closing) return;
    const { log, service, stream } = this.options;
    if (Date.now() - this.startedAt >= STABLE_AFTER_MS) this.consecutiveFailures = 0;
    this.restarts += 1;
    log.warn(
      { service, stream, code, signal, writerRestarts: this.restarts },
      `the log writer of ${service} ${stream} exited (code ${code}, signal ${signal}): starting another on the same pipe`,
    );
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = Math.min(RESTART_DELAY_MAX_MS, RESTART_DELAY_MIN_MS * 2 ** this.consecutiveFailures);
    this.consecutiveFailures += 1;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (!this.closing) this.start();
    }, delay);
  }

  /** Signals the writer if its pid still is the process we started (same start time): a reused pid is never signalled. */
  private signalIfOurs(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running() || this.childStartTime === null) return;
    if (readProcessStartTime(pid) !== this.childStartTime) return;
    this.options.log.warn(
      { service: this.options.service, stream: this.options.stream, pid, signal },
      signal === 'SIGTERM'
        ? 'the log writer did not finish within 5 s of the service (a process still holds its output): stopping it after its current line'
        : 'the log writer is still waiting for the end of a line 2 s after SIGTERM: killing it (that line is lost)',
    );
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}
