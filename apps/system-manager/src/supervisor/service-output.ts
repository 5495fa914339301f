import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import type { Logger } from '../logger.js';
import type { LogDestination } from './log-destination.js';
import { type LogCounters, LogForwarder, type LogLimits, TAIL_LINES } from './log-forwarder.js';
import { tailOfLogFiles } from './log-tail.js';
import type { LogWriterStatus } from './log-writer.js';
import type { OutputTap } from './output-tap.js';
import { type LogFileCounters, RotatingLogFile, type RotationLimits } from './rotating-log-file.js';
import { WriterOutput } from './writer-output.js';

/**
 * What `/status` shows of a service's output, by destination; for `file`, by
 * writer: s6-log processes of its own (one per stream), or the manager.
 */
export type ServiceLogStatus =
  | {
      readonly destination: 'file';
      readonly writer: 's6-log';
      readonly dir: string;
      readonly writers: readonly LogWriterStatus[];
    }
  | ({ readonly destination: 'file'; readonly writer: 'manager'; readonly file: string } & LogFileCounters)
  | { readonly destination: 'journald'; readonly identifier: string }
  | ({ readonly destination: 'manager' } & LogCounters);

/**
 * What a spawned child's stdout or stderr is: a pipe this side reads, a
 * socket the child writes to itself, or a descriptor this side keeps open
 * (the write end of a log writer's pipe).
 */
export type OutputTarget = 'pipe' | net.Socket | number;

/**
 * Where one service's stdout and stderr go, across its restarts. A new
 * process asks {@link targets} for its two descriptors, is {@link attach}ed
 * once spawned, and {@link lastLines} gives the tail for error reports.
 */
export interface ServiceOutput {
  targets(): Promise<readonly [OutputTarget, OutputTarget]>;
  /** The child is spawned with the targets: read its pipes, drop our copies of what it now holds. */
  attach(child: ChildProcess, targets: readonly [OutputTarget, OutputTarget]): void;
  /** The last lines the service printed (both streams, oldest first), when this side sees them. */
  lastLines(): string[];
  /** Up to `count` of its latest lines for `logs -n`: from the log files where they are kept, else {@link lastLines}. */
  recentLines(count: number): Promise<string[]>;
  /** The process exited: what is pending is written out. */
  flush(): void;
  /** Resolves once what the service printed is where {@link lastLines} reads it (at once where that is this side). */
  settled(): Promise<void>;
  status(): ServiceLogStatus;
  /** The service is stopped for good: the file is closed. */
  close(): Promise<void>;
}

/** The destination's output for one service. */
export function createServiceOutput(
  destination: LogDestination,
  service: string,
  log: Logger,
  limits: LogLimits & RotationLimits,
  tap: OutputTap,
): ServiceOutput {
  if (destination.kind === 'journald') return new JournalOutput(destination.socket, service, log);
  if (destination.kind === 'file' && destination.writer !== null)
    return new WriterOutput(destination.dir, service, destination.writer, limits, log, tap);
  if (destination.kind === 'file')
    return new FileOutput(path.join(destination.dir, `${service}.log`), log, limits, tapOf(tap, service));
  return new ManagerLogOutput(new LogForwarder(service, log, limits), tapOf(tap, service));
}

type Tap = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

function tapOf(tap: OutputTap, service: string): Tap {
  return (stream, chunk) => {
    if (tap.active) tap.chunk(service, stream, chunk);
  };
}

/** Passes the child's pipes to `logs -f` followers too (a second 'data' listener: the pipes' flow is unchanged). */
function tapPipes(child: ChildProcess, tap: Tap): void {
  child.stdout?.on('data', (chunk: Buffer) => tap('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => tap('stderr', chunk));
}

const PIPES: readonly [OutputTarget, OutputTarget] = ['pipe', 'pipe'];

/** Lines into the manager's own JSON log, rate-limited (the `manager` destination). */
class ManagerLogOutput implements ServiceOutput {
  constructor(
    private readonly forwarder: LogForwarder,
    private readonly tap: Tap,
  ) {}

  async targets() {
    return PIPES;
  }

  attach(child: ChildProcess): void {
    child.stdout?.on('data', (chunk: Buffer) => this.forwarder.push('stdout', chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.forwarder.push('stderr', chunk));
    tapPipes(child, this.tap);
  }

  lastLines(): string[] {
    return this.forwarder.lastLines();
  }

  async recentLines(count: number): Promise<string[]> {
    return count === 0 ? [] : this.forwarder.lastLines().slice(-count);
  }

  flush(): void {
    this.forwarder.flush();
  }

  async settled(): Promise<void> {}

  status(): ServiceLogStatus {
    return { destination: 'manager', ...this.forwarder.counters() };
  }

  async close(): Promise<void> {}
}

/** How many bytes of the latest output are kept for {@link ServiceOutput.lastLines}. */
const TAIL_BYTES = 16 * 1024;

/**
 * The service's pipes piped, as bytes, into its rotating log file (the
 * `file` destination when s6-log is not on PATH). Nothing is split into lines on the way: only the last
 * few KiB are kept, and split when an error report asks for them.
 */
class FileOutput implements ServiceOutput {
  private readonly file: RotatingLogFile;
  private tail = Buffer.alloc(0);
  private lastReportAt = 0;

  constructor(
    file: string,
    private readonly log: Logger,
    private readonly limits: RotationLimits,
    private readonly tap: Tap,
  ) {
    this.file = new RotatingLogFile(file, limits, (error) => this.reportWriteError(error));
  }

  async targets() {
    return PIPES;
  }

  attach(child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      // pipe() carries the file's backpressure to the service: it waits on its own writes, nothing is dropped.
      const lines = new WholeLines();
      lines.on('data', (chunk: Buffer) => this.keepTail(chunk));
      stream.pipe(lines).pipe(this.file, { end: false });
    }
    tapPipes(child, this.tap);
  }

  recentLines(count: number): Promise<string[]> {
    return tailOfLogFiles(this.file.file, this.limits.keepFiles, count);
  }

  lastLines(): string[] {
    const lines = this.tail.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    // The first line may have been cut by the byte bound.
    if (this.tail.length >= TAIL_BYTES) lines.shift();
    return lines.slice(-TAIL_LINES);
  }

  flush(): void {}

  async settled(): Promise<void> {}

  status(): ServiceLogStatus {
    return { destination: 'file', writer: 'manager', file: this.file.file, ...this.file.counters() };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.file.writableEnded) resolve();
      else this.file.end(() => resolve());
    });
  }

  private keepTail(chunk: Buffer): void {
    if (chunk.length >= TAIL_BYTES) this.tail = Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES));
    else {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined;
    }
  }

  private reportWriteError(error: Error): void {
    const now = Date.now();
    if (now - this.lastReportAt < 5_000) return;
    this.lastReportAt = now;
    this.log.warn(
      { err: error, file: this.file.file, lostBytes: this.file.counters().lostBytes },
      'cannot write a service log file: output lost until it can',
    );
  }
}

/** A partial line longer than this is written as it is (a service that never prints a newline). */
const MAX_PENDING_LINE = 64 * 1024;

/**
 * Passes on a stream's bytes up to its last newline and holds the rest until
 * the line is complete, so stdout and stderr, written into one file, never
 * interleave inside a line. One `lastIndexOf` per chunk: no per-line work.
 */
class WholeLines extends Transform {
  private pending: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const cut = chunk.lastIndexOf(10) + 1;
    if (cut === 0) {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.pending.length > MAX_PENDING_LINE) {
        this.push(this.pending);
        this.pending = Buffer.alloc(0);
      }
      callback();
      return;
    }
    if (this.pending.length > 0) this.push(this.pending);
    this.push(cut === chunk.length ? chunk : chunk.subarray(0, cut));
    this.pending = cut === chunk.length ? Buffer.alloc(0) : Buffer.from(chunk.subarray(cut));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.pending.length > 0) this.push(this.pending);
    callback();
  }
}

/** journald's stream priorities (syslog levels): stdout is info, stderr warning. */
const PRIORITY = { stdout: 6, stderr: 4 } as const;

/**
 * Each stream of the service connected straight to journald's stdout socket
 * (the `journald` destination), as systemd connects a unit's own: the service
 * writes into the journal and the manager's JavaScript never sees a byte.
 * The stream header names the service as SYSLOG_IDENTIFIER; a line starting
 * with `<N>` (sd-daemon(3)) sets its own priority.
 */
class JournalOutput implements ServiceOutput {
  constructor(
    private readonly socket: string,
    private readonly service: string,
    private readonly log: Logger,
  ) {}

  async targets(): Promise<readonly [OutputTarget, OutputTarget]> {
    const stdout = await this.connect(PRIORITY.stdout);
    try {
      return [stdout, await this.connect(PRIORITY.stderr)];
    } catch (error) {
      stdout.destroy();
      throw error;
    }
  }

  attach(_child: ChildProcess, targets: readonly [OutputTarget, OutputTarget]): void {
    // The child holds its own copies of the two descriptors: ours are closed at once.
    for (const target of targets) if (typeof target === 'object') target.destroy();
  }

  lastLines(): string[] {
    return [`(the output is in the journal: journalctl -t ${this.service})`];
  }

  async recentLines(): Promise<string[]> {
    return this.lastLines();
  }

  flush(): void {}

  async settled(): Promise<void> {}

  status(): ServiceLogStatus {
    return { destination: 'journald', identifier: this.service };
  }

  async close(): Promise<void> {}

  private connect(priority: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socket);
      // Closed by us right after the spawn; an error after the header is nobody's to throw.
      socket.on('error', () => {});
      socket.once('error', (error) => {
        this.log.warn({ err: error, socket: this.socket }, 'cannot connect to the journal');
        reject(error);
      });
      socket.once('connect', () => {
        // identifier, unit id, priority, level prefix, forward to syslog, kmsg, console.
        socket.write(`${this.service}\n\n${priority}\n1\n0\n0\n0\n`, () => resolve(socket));
      });
    });
  }
}
