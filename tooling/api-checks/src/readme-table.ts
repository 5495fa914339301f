// A package's README lists its exports in a table per entry module whose
// first header cell is the module's specifier (`@core/session`); the first
// cell of each row names one export. The check compares those names with
// what the entry module declares, both ways.
import { readFileSync } from 'node:fs';
import { DeclaredModule } from './declared.js';

/** One entry module of a package and the specifier its README table is headed with. */
export interface ReadmeEntry {
  /** Absolute path of the entry module's source. */
  readonly source: string;
  /** The import specifier (`@core/session/store`). */
  readonly specifier: string;
}

/** The export names listed in the README table headed by `specifier`, or null when there is none. */
export function listedExports(readme: string, specifier: string): string[] | null {
  const lines = readme.split('\n');
  const header = lines.findIndex((line) =>
    new RegExp(`^\\|\\s*\`${specifier.replace(/[/.]/g, '\\$&')}\`\\s*\\|`).test(line),
  );
  if (header === -1) return null;
  const names: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cell = line.split('|')[1] ?? '';
    const name = /`([A-Za-z_$][\w$]*)/.exec(cell)?.[1];
    if (name !== undefined) names.push(name);
  }
  return names;
}

/** Every difference between the README's tables and the entry modules' exports, one message each. */
export function readmeTableProblems(
  readmePath: string,
  tsconfig: string,
  entries: readonly ReadmeEntry[],
): string[] {
  const readme = readFileSync(readmePath, 'utf8');
  const problems: string[] = [];
  for (const entry of entries) {
    const listed = listedExports(readme, entry.specifier);
    if (listed === null) {
      problems.push(`README has no table headed | \`${entry.specifier}\` |`);
      continue;
    }
    const exported = new DeclaredModule(entry.source, tsconfig).exports().map((e) => e.name);
    for (const name of exported)
      if (!listed.includes(name))
        problems.push(`${entry.specifier}: ${name} is exported but not in the README table`);
    for (const name of listed)
      if (!exported.includes(name))
        problems.push(`${entry.specifier}: the README table lists ${name}, which is not exported`);
  }
  return problems;
}

/** A README table of the entry's exports, each with its kind and doc summary (to paste, then edit). */
export function exportTable(entry: ReadmeEntry, tsconfig: string): string {
  const rows = new DeclaredModule(entry.source, tsconfig).exports().map((e) => {
    // `{@link X}` reads as code here: a README is not resolved the way a doc comment is.
    const summary = e.summary.replace(/\{@link\s+([^}\s|]+)[^}]*\}/g, '`$1`').replace(/\|/g, '\\|');
    return `| \`${e.name}\` | ${e.kind} | ${e.deprecated ? '**Deprecated.** ' : ''}${summary} |`;
  });
  return [`| \`${entry.specifier}\` | kind | what |`, '|---|---|---|', ...rows].join('\n');
}
