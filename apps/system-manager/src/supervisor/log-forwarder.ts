import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../logger.js';

/** How many of a service's last output lines are kept for error reports. */
export const TAIL_LINES = 20;
/** How often, at most, the manager logs that a service's lines were dropped. */
const DROP_REPORT_MS = 5_000;

const PINO_LEVELS: Record<number, LogLevel> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const LEVEL_NAMES = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Limits of {@link LogForwarder}. */
export interface LogLimits {
  readonly maxLineLength: number;
  readonly maxLinesPerSecond: number;
}

/** Counters a forwarder keeps, shown in `/status` per service. */
export interface LogCounters {
  readonly forwarded: number;
  readonly dropped: number;
  readonly truncated: number;
}

/**
 * Turns a service's stdout/stderr into structured log lines of the manager
 * (stdout → info, stderr → warn, or the level of a JSON line the service wrote
 * itself), so the journal gets everything the service says.
 *
 * Memory is bounded whatever the service does: a line is cut at
 * `maxLineLength` characters (the rest of it up to the newline is skipped, never buffered),
 * and a token bucket passes `maxLinesPerSecond` lines per second; the rest are
 * counted as dropped and reported in one warning at most every few seconds.
 */
export class LogForwarder {
  private readonly tail: string[] = [];
  private tailNext = 0;
  private readonly partial = { stdout: '', stderr: '' };
  /** A multi-byte character split across two chunks stays whole. */
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  /** Per stream: the current line was already cut, skip until its newline. */
  private readonly skipping = { stdout: false, stderr: false };
  private tokens: number;
  private refilledAt = Date.now();
  private droppedSinceReport = 0;
  private reportedAt = 0;
  private counts = { forwarded: 0, dropped: 0, truncated: 0 };

  constructor(
    private readonly service: string,
    private readonly log: Logger,
    private readonly limits: LogLimits,
  ) {
    this.tokens = limits.maxLinesPerSecond;
  }

  /** Counters since the service was first started. */
  counters(): LogCounters {
    return { ...this.counts };
  }

  /** The last lines the service printed (both streams, oldest first), for error reports. */
  lastLines(): string[] {
    const ordered = [...this.tail.slice(this.tailNext), ...this.tail.slice(0, this.tailNext)];
    const pending = [this.partial.stdout, this.partial.stderr].filter((p) => p !== '');
    return [...ordered, ...pending].slice(-TAIL_LINES);
  }

  /** Feeds a chunk of one stream. */
  push(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoders[stream].write(chunk);
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      this.line(stream, text.slice(start, newline));
      start = newline + 1;
    }
    if (start >= text.length) return;
    if (this.skipping[stream]) return;
    const rest = this.partial[stream] + text.slice(start);
    if (rest.length > this.limits.maxLineLength) {
      // A line longer than the limit is emitted cut now; what follows it up to the newline is skipped.
      this.partial[stream] = '';
      this.emit(stream, rest.slice(0, this.limits.maxLineLength), true);
      this.skipping[stream] = true;
    } else this.partial[stream] = rest;
  }

  /** Emits what is left of unterminated lines (the service exited). */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.emit(stream, this.partial[stream], false);
      this.partial[stream] = '';
      this.skipping[stream] = false;
    }
    this.reportDropped(true);
  }

  private line(stream: 'stdout' | 'stderr', segment: string): void {
    if (this.skipping[stream]) {
      this.skipping[stream] = false;
      this.partial[stream] = '';
      return;
    }
    let line = this.partial[stream] + segment;
    this.partial[stream] = '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const cut = line.length > this.limits.maxLineLength;
    this.emit(stream, cut ? line.slice(0, this.limits.maxLineLength) : line, cut);
  }

  private emit(stream: 'stdout' | 'stderr', line: string, truncated: boolean): void {
    this.tail[this.tailNext] = line;
    this.tailNext = (this.tailNext + 1) % TAIL_LINES;
    if (truncated) this.counts.truncated += 1;
    if (!this.take()) {
      this.counts.dropped += 1;
      this.droppedSinceReport += 1;
      this.reportDropped(false);
      return;
    }
    this.counts.forwarded += 1;
    const fields: Record<string, unknown> = { service: this.service, stream };
    if (truncated) fields['truncated'] = true;
    let level: LogLevel = stream === 'stdout' ? 'info' : 'warn';
    let msg = line;
    if (line.startsWith('{') && !truncated) {
      const own = parseJsonLine(line);
      if (own !== null) {
        level = own.level ?? level;
        msg = own.msg;
        fields['serviceLog'] = own.fields;
      }
    }
    this.log[level](fields, msg);
  }

  private take(): boolean {
    const now = Date.now();
    const rate = this.limits.maxLinesPerSecond;
    if (now > this.refilledAt) {
      this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private reportDropped(force: boolean): void {
    const now = Date.now();
    if (this.droppedSinceReport === 0 || (!force && now - this.reportedAt < DROP_REPORT_MS)) return;
    this.log.warn(
      {
        service: this.service,
        droppedLines: this.droppedSinceReport,
        droppedTotal: this.counts.dropped,
        maxLinesPerSecond: this.limits.maxLinesPerSecond,
      },
      `dropped ${this.droppedSinceReport} lines of ${this.service}'s output (over ${this.limits.maxLinesPerSecond} lines/s)`,
    );
    this.droppedSinceReport = 0;
    this.reportedAt = now;
  }
}

/** A JSON object line a service logged itself (pino, bunyan, or any `{ level, msg }` logger). */
function parseJsonLine(
  line: string,
): { level: LogLevel | undefined; msg: string; fields: Record<string, unknown> } | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { level: rawLevel, msg, message, ...fields } = value as Record<string, unknown>;
  let level: LogLevel | undefined;
  if (typeof rawLevel === 'number') level = PINO_LEVELS[rawLevel];
  else if (typeof rawLevel === 'string') {
    const name = rawLevel.toLowerCase();
    level = name === 'warning' ? 'warn' : LEVEL_NAMES.has(name) ? (name as LogLevel) : undefined;
  }
  const text = typeof msg === 'string' ? msg : typeof message === 'string' ? message : '';
  return { level, msg: text, fields };
}
