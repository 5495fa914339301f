// The `file` destination when s6-log is on PATH: each stream of a service
// goes through a pipe to a writer process of its own (./log-writer.ts), into
// `<logs dir>/<service>/stdout/` and `<service>/stderr/`. Two writers, not
// one: a line is never cut by the other stream, whatever sizes the service
// writes in (a block-buffered stdout flushes mid-line), and stderr stays
// apart. The last lines for `logs`, `describe` and error reports are read
// back from the files and put in order by the writers' stamps.
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { SystemManagerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LogWriterProgram } from './log-destination.js';
import { TAIL_LINES } from './log-forwarder.js';
import { LogWriter, type LogWriterStatus } from './log-writer.js';
import {
  LogdirFollower,
  mergeByStamp,
  preparePrivateDirs,
  type StampedLine,
  tailOfLogdir,
} from './logdir.js';
import type { OutputTap } from './output-tap.js';
import type { RotationLimits } from './rotating-log-file.js';
import type { OutputTarget, ServiceLogStatus, ServiceOutput } from './service-output.js';

/** Bytes read back per stream for an error report's last lines. */
const REPORT_BYTES = 64 * 1024;
/** Most bytes read back per stream for `logs -n`. */
const MAX_RECENT_BYTES = 16 * 1024 * 1024;
/** How often a followed service's files are read for `logs -f`. */
const FOLLOW_POLL_MS = 200;
/** How long {@link WriterOutput.settled} waits, at most, for the writers to catch up. */
const SETTLE_MAX_MS = 1_000;
const SETTLE_POLL_MS = 25;

const STREAMS = ['stdout', 'stderr'] as const;

/** A service's streams written by s6-log processes of their own. */
export class WriterOutput implements ServiceOutput {
  private readonly serviceDir: string;
  private writers: readonly [LogWriter, LogWriter] | undefined;
  private opening: Promise<readonly [LogWriter, LogWriter]> | undefined;
  private readonly removeSource: () => void;

  constructor(
    private readonly root: string,
    private readonly service: string,
    private readonly program: LogWriterProgram,
    private readonly limits: RotationLimits,
    private readonly log: Logger,
    private readonly tap: OutputTap,
  ) {
    this.serviceDir = path.join(root, service);
    this.removeSource = tap.addSource(service, () => this.follow());
  }

  private dirOf(stream: 'stdout' | 'stderr'): string {
    return path.join(this.serviceDir, stream);
  }

  async targets(): Promise<readonly [OutputTarget, OutputTarget]> {
    const [stdout, stderr] = await this.open();
    return [stdout.fd, stderr.fd];
  }

  /** The writers keep their pipes for the next process of the service: nothing to drop here. */
  attach(): void {}

  lastLines(): string[] {
    return this.tail(TAIL_LINES, REPORT_BYTES);
  }

  async recentLines(count: number): Promise<string[]> {
    if (count === 0) return [];
    return this.tail(count, Math.min(MAX_RECENT_BYTES, REPORT_BYTES + count * 4096));
  }

  flush(): void {}

  /**
   * Resolves once the writers have caught up with what the service printed
   * (the files stopped growing), so an error report right after an exit
   * holds the service's last words; at most about a second.
   */
  async settled(): Promise<void> {
    const deadline = Date.now() + SETTLE_MAX_MS;
    let previous = this.sizes();
    let stableFor = 0;
    while (Date.now() < deadline && stableFor < 2) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      const now = this.sizes();
      stableFor = now === previous ? stableFor + 1 : 0;
      previous = now;
    }
  }

  status(): ServiceLogStatus {
    const writers: LogWriterStatus[] =
      this.writers?.map((w) => w.status()) ??
      STREAMS.map((stream) => ({ stream, dir: this.dirOf(stream), pid: null, restarts: 0 }));
    return { destination: 'file', writer: this.program.name, dir: this.serviceDir, writers };
  }

  /** The service is stopped for good: the writers write what is left in the pipes and exit. */
  async close(): Promise<void> {
    this.removeSource();
    const writers = this.writers ?? (await this.opening?.catch(() => undefined));
    if (writers) await Promise.all(writers.map((w) => w.close()));
  }

  private open(): Promise<readonly [LogWriter, LogWriter]> {
    if (this.writers) return Promise.resolve(this.writers);
    this.opening ??= this.openWriters().then(
      (writers) => {
        this.writers = writers;
        return writers;
      },
      (error: unknown) => {
        this.opening = undefined;
        throw new SystemManagerError(
          'E_SERVICE_FAILED',
          `service ${this.service}: cannot set up its log writers in ${this.serviceDir}: ${(error as Error).message}`,
          { cause: error },
        );
      },
    );
    return this.opening;
  }

  private async openWriters(): Promise<readonly [LogWriter, LogWriter]> {
    preparePrivateDirs(this.root, [this.serviceDir, this.dirOf('stdout'), this.dirOf('stderr')], (planted) =>
      this.log.warn(
        { service: this.service, path: planted },
        `removed a symlink planted at ${planted} (not followed)`,
      ),
    );
    const open = (stream: 'stdout' | 'stderr') =>
      LogWriter.open({
        program: this.program.path,
        dir: this.dirOf(stream),
        stream,
        service: this.service,
        limits: this.limits,
        log: this.log,
      });
    const stdout = await open('stdout');
    try {
      return [stdout, await open('stderr')];
    } catch (error) {
      await stdout.close();
      throw error;
    }
  }

  private tail(count: number, bytesPerStream: number): string[] {
    const streams = STREAMS.map((stream) => tailOfLogdir(this.dirOf(stream), count, bytesPerStream));
    return mergeByStamp(streams)
      .slice(-count)
      .map((line) => line.text);
  }

  /** Both `current` files' sizes, as one comparable string. */
  private sizes(): string {
    return STREAMS.map((stream) => {
      try {
        const stats = lstatSync(path.join(this.dirOf(stream), 'current'));
        return `${stats.ino}/${stats.size}`;
      } catch {
        return '-';
      }
    }).join(':');
  }

  /** `logs -f`: the files are read as they grow, while someone follows this service. */
  private follow(): () => void {
    const onLine = (line: StampedLine) => this.tap.line(this.service, line.text);
    const followers = STREAMS.map((stream) => new LogdirFollower(this.dirOf(stream), onLine));
    const timer = setInterval(() => {
      for (const follower of followers) follower.poll();
    }, FOLLOW_POLL_MS);
    return () => {
      clearInterval(timer);
      for (const follower of followers) follower.close();
    };
  }
}
