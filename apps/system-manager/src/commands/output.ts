/** Writes one result line (or block) to stdout; logs and progress go to stderr. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

// Controls, format characters (bidi overrides, zero-width), line and paragraph
// separators, surrogates, private use and unassigned code points: what a
// terminal would act on or hide instead of showing.
const NON_PRINTING = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/gu;

/**
 * A value read from a record or a store, safe to print as text: every
 * non-printing character shown as `\u{…}`, so a planted id can neither move
 * the cursor, start a new line nor reorder what a person reads.
 */
export function printable(value: string | number | null | undefined): string {
  return String(value ?? '-').replace(
    NON_PRINTING,
    (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`,
  );
}

/** A plain warning line on stderr (read-only commands do not load the logger for it). */
export function warnLine(text: string): void {
  process.stderr.write(`system-manager: ${text}\n`);
}

/** Left-aligned text table with a header row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
