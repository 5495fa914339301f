// One frame of `top` as lines of text, exactly `height` of them, none wider
// than `width` columns. Pure: the same view gives the same frame, so the loop
// can skip writing a frame equal to the last. Escape sequences appear only
// here, for the selected row (reverse video) and the state's colour; every
// text from the manager goes through `printable` first, so a service name or
// a log line can neither move the cursor nor change the screen's colours.
import { printable } from '../output.js';
import type { TopRow } from './model.js';

/** Everything one frame shows. */
export interface TopView {
  /** The manager's session id (the socket's name). */
  readonly session: string;
  readonly rows: readonly TopRow[];
  /** Index into `rows` of the selected service. */
  readonly selected: number;
  /** The last lines of the selected service's output. */
  readonly logLines: readonly string[];
  /** A line about the last action or a problem (e.g. the manager went away); null for none. */
  readonly message: string | null;
  /** Whether the manager answers; false dims the table (its figures are the last known). */
  readonly connected: boolean;
  /** Local time shown in the title (HH:MM:SS). */
  readonly clock: string;
}

const RESET = '\x1b[0m';
const REVERSE = '\x1b[7m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const STATE_COLOUR: Readonly<Record<string, string>> = {
  healthy: '\x1b[32m',
  starting: '\x1b[33m',
  backoff: '\x1b[33m',
  stopping: '\x1b[33m',
  unhealthy: '\x1b[31m',
  failed: '\x1b[31m',
  exited: '\x1b[31m',
  stopped: '\x1b[90m',
};
const SPARKS = '▁▂▃▄▅▆▇█';

interface Column {
  readonly title: string;
  readonly width: number;
  readonly right?: true;
  readonly cell: (row: TopRow) => string;
}

const STATE_WIDTH = 9;
const COLUMNS: readonly Column[] = [
  { title: 'STATE', width: STATE_WIDTH, cell: (r) => r.state },
  { title: 'PID', width: 7, right: true, cell: (r) => (r.pid === null ? '-' : String(r.pid)) },
  { title: 'PORT', width: 5, right: true, cell: (r) => (r.port === null ? '-' : String(r.port)) },
  { title: 'UPTIME', width: 7, right: true, cell: (r) => duration(r.uptimeSeconds) },
  { title: 'RESTARTS', width: 8, right: true, cell: (r) => String(r.restarts) },
  {
    title: 'CPU%',
    width: 6,
    right: true,
    cell: (r) => (r.cpuPercent === null ? '-' : r.cpuPercent.toFixed(1)),
  },
  { title: 'MEM', width: 7, right: true, cell: (r) => bytes(r.memoryBytes) },
  { title: 'HEALTH', width: 7, cell: (r) => r.health },
  {
    title: 'HIT%',
    width: 5,
    right: true,
    cell: (r) => (r.hitRate === null ? '-' : `${Math.round(r.hitRate * 100)}%`),
  },
];

/** The frame for `view` on a `width` × `height` terminal. */
export function render(view: TopView, width: number, height: number): string[] {
  const w = Math.max(1, width);
  const h = Math.max(1, height);
  const nameWidth = Math.min(24, Math.max(7, ...view.rows.map((r) => printable(r.name).length)));
  const fixed = nameWidth + COLUMNS.reduce((sum, c) => sum + 1 + c.width, 0);
  // The sparkline takes what is left of the line, up to its history.
  const sparkWidth = Math.max(0, Math.min(30, w - fixed - 2));
  const lines: string[] = [];
  const title = `system-manager top — session ${printable(view.session)} — ${view.rows.length} service${view.rows.length === 1 ? '' : 's'}${view.connected ? '' : ' — manager gone'}`;
  lines.push(`${BOLD}${fit(`${title}  ${view.clock}`, w)}${RESET}`);
  const header = [
    'SERVICE'.padEnd(nameWidth),
    ...COLUMNS.map((c) => (c.right ? c.title.padStart(c.width) : c.title.padEnd(c.width))),
    ...(sparkWidth > 0 ? ['LOOKUPS/S'.slice(0, sparkWidth)] : []),
  ].join(' ');
  lines.push(`${DIM}${fit(header, w)}${RESET}`);
  const footer = 'q quit  ↑/↓ j/k select  r restart  s stop  t start';
  const message = view.message === null ? null : printable(view.message);
  // Title, header, the table, a blank line, the log block, the message and the key line.
  const bottom = 1 + (message === null ? 0 : 1);
  const tableRoom = Math.max(0, h - lines.length - bottom);
  const visibleRows = Math.min(view.rows.length, tableRoom);
  // Scrolled so the selected row is always on screen.
  const first = Math.max(0, Math.min(view.selected - visibleRows + 1, view.rows.length - visibleRows));
  for (let i = first; i < first + visibleRows; i++) {
    const row = view.rows[i] as TopRow;
    const name = fit(printable(row.name), nameWidth).padEnd(nameWidth);
    const cells = COLUMNS.map((c) => {
      const text = fit(printable(c.cell(row)), c.width);
      return c.right ? text.padStart(c.width) : text.padEnd(c.width);
    });
    const spark = sparkWidth > 0 ? sparkline(row.requests, sparkWidth) : '';
    const parts = [name, ...cells, ...(spark ? [spark] : [])];
    const whole = parts.join(' ');
    const plain = fit(whole, w);
    if (i === view.selected) lines.push(`${REVERSE}${plain.padEnd(w)}${RESET}`);
    else if (!view.connected) lines.push(`${DIM}${plain}${RESET}`);
    else {
      // The state cell in its colour, when the row is not cut short.
      const colour = STATE_COLOUR[row.state] ?? '';
      const [, state, ...rest] = parts;
      lines.push(
        colour !== '' && plain === whole ? `${name} ${colour}${state}${RESET} ${rest.join(' ')}` : plain,
      );
    }
  }
  const selected = view.rows[view.selected];
  const logRoom = h - lines.length - bottom - 2;
  if (selected !== undefined && logRoom > 0) {
    lines.push('');
    const stopped = selected.stoppedBy === null ? '' : ` (stopped by ${printable(selected.stoppedBy)})`;
    lines.push(
      `${DIM}${fit(`── ${printable(selected.name)}${stopped}: last lines ${'─'.repeat(w)}`, w)}${RESET}`,
    );
    const tail = view.logLines.slice(-logRoom);
    for (const text of tail) lines.push(fit(printable(text.replaceAll('\t', '  ')), w));
  }
  while (lines.length < h - bottom) lines.push('');
  if (message !== null) lines.push(fit(message, w));
  lines.push(`${DIM}${fit(footer, w)}${RESET}`);
  return lines.slice(0, h);
}

/** `text` cut to `width` columns (one column per code point: names and lines are `printable` already). */
function fit(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`;
}

/** The last `width` counts as bars scaled to the largest of them. */
export function sparkline(counts: readonly number[], width: number): string {
  const shown = counts.slice(-width);
  if (shown.length === 0) return '';
  const max = Math.max(...shown);
  return shown
    .map((n) => (max === 0 ? SPARKS[0] : SPARKS[Math.min(7, Math.floor((n / max) * 7.999))]))
    .join('');
}

/** 42s, 5m03s, 2h07m, 3d04h. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

/** 512B, 41.2M, 1.3G (binary units, as top). */
export function bytes(n: number | null): string {
  if (n === null) return '-';
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}M`;
  return `${(n / 1024 ** 3).toFixed(1)}G`;
}
