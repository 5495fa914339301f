import { createRequire } from 'node:module';
import type { Logger, pino as Pino } from 'pino';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
let pinoModule: { pino: typeof Pino } | undefined;
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);

/** Renders one pino JSON line for a person at a terminal: `12:00:01 info  [ports] message key=value`. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(Number(entry['time'] ?? Date.now())).toISOString().slice(11, 19);
  const level = (LEVEL_NAMES[Number(entry['level'])] ?? 'info').padEnd(5);
  const component = entry['component'] ? `[${String(entry['component'])}] ` : '';
  const extras = Object.entries(entry)
    .filter(([key]) => !OMIT.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level} ${component}${String(entry['msg'] ?? '')}${extras ? `  ${extras}` : ''}\n`;
}

/**
 * The app's logger: pino to stderr (stdout is for results), JSON lines when
 * stderr is not a TTY, a readable line when it is. Level from `LOG_LEVEL`.
 */
export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  // pino is loaded on the first logger, not at import: read-only commands that log nothing never pay for it.
  pinoModule ??= createRequire(import.meta.url)('pino') as { pino: typeof Pino };
  const { pino } = pinoModule;
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  if (!pretty) return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  return pino(
    { level, base: { pid: process.pid } },
    { write: (line: string) => process.stderr.write(formatLogLine(line)) },
  );
}
