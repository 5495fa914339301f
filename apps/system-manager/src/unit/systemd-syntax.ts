// systemd.syntax(7) and systemd.service(5) quoting, both ways.
//
// A unit file line goes through three rewrites before a program sees its
// argv: `%` specifiers are expanded on the whole value, the value is split
// into words (double/single quotes, C-style backslash escapes), and in
// ExecStart= every word after the first gets `$VAR`/`${VAR}` expanded
// ($$ is a literal $). The executable itself is not subject to `$`
// expansion. Writing a path for a unit therefore means undoing all three,
// and the parser below exists so tests can prove the writer round-trips.

import { SystemManagerError } from '../errors.js';

/** A value that cannot be written into a unit file at all. */
export class UnitSyntaxError extends SystemManagerError<'E_UNIT_SYNTAX'> {
  constructor(message: string) {
    super('E_UNIT_SYNTAX', message);
  }
}

function escapeInsideDoubleQuotes(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '%') out += '%%';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * One word of an `ExecStart=` line, double-quoted: `%` → `%%`, `\` and `"`
 * escaped, control characters as `\xNN`, and (except for the executable)
 * `$` → `$$`.
 */
export function quoteExecWord(word: string, options: { executable?: boolean } = {}): string {
  if (word.includes('\0'))
    throw new UnitSyntaxError(`a NUL byte cannot be passed in a command line: ${JSON.stringify(word)}`);
  const escaped = escapeInsideDoubleQuotes(word);
  return `"${options.executable ? escaped : escaped.replaceAll('$', '$$$$')}"`;
}

/** A whole `ExecStart=` value: the executable (absolute path) and its arguments. */
export function execLine(executable: string, args: readonly string[]): string {
  if (!executable.startsWith('/'))
    throw new UnitSyntaxError(`the executable must be an absolute path, got ${JSON.stringify(executable)}`);
  // systemd refuses these in the executable's path ("Executable name contains special characters"), quoted or not.
  if (/['"\\]/.test(executable))
    throw new UnitSyntaxError(
      `systemd does not run an executable whose path contains quotes or a backslash: ${JSON.stringify(executable)}; install it elsewhere`,
    );
  return [quoteExecWord(executable, { executable: true }), ...args.map((a) => quoteExecWord(a))].join(' ');
}

/** One `Environment=` assignment, quoted: `"NAME=value"` (no `$` expansion happens there). */
export function environmentWord(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UnitSyntaxError(`not an environment variable name: ${JSON.stringify(name)}`);
  if (value.includes('\0')) throw new UnitSyntaxError(`$${name} contains a NUL byte`);
  return `"${escapeInsideDoubleQuotes(`${name}=${value}`)}"`;
}

/**
 * A path for settings that take the rest of the line verbatim after specifier
 * expansion (`WorkingDirectory=`): only `%` needs escaping, but a value the
 * parser would change (surrounding whitespace, a newline, a leading `-` or
 * `~`) is refused.
 */
export function plainPath(value: string): string {
  if (!value.startsWith('/'))
    throw new UnitSyntaxError(`expected an absolute path, got ${JSON.stringify(value)}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\x00-\x1f\x7f]/.test(value) || value !== value.trim() || value.includes('\\'))
    throw new UnitSyntaxError(
      `the path ${JSON.stringify(value)} cannot be written in a unit file (control characters, a backslash or surrounding spaces): move it`,
    );
  return value.replaceAll('%', '%%');
}

/**
 * One entry of a space-separated path list (`ReadWritePaths=`). systemd
 * unquotes each word (a backslash takes the next character literally, no C
 * escapes), then expands specifiers, then reads a leading `-` or `+` as a
 * flag. So the path must be one {@link plainPath} accepts (absolute: it
 * starts with `/`, never a flag), and is double-quoted when it holds a space
 * or a quote.
 */
export function pathListWord(value: string): string {
  const escaped = plainPath(value);
  return /[\s"']/.test(escaped) ? `"${escaped.replaceAll('"', '\\"')}"` : escaped;
}

/**
 * A comment line: `# ` and the text, with control characters written as
 * `\xNN`, so a path from a config (a directory name with a newline in it)
 * can never start a line of its own.
 */
export function comment(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped
  return `# ${text.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${(ch.codePointAt(0) as number).toString(16).padStart(2, '0')}`)}`;
}

/** Expands the only specifier we ever write (`%%`); any other would be replaced by systemd, so it is reported. */
export function expandSpecifiers(value: string): string {
  return value.replace(/%(.)?/g, (_, next: string | undefined) => {
    if (next === '%') return '%';
    throw new UnitSyntaxError(`unescaped specifier %${next ?? ''} in ${JSON.stringify(value)}`);
  });
}

const C_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  s: ' ',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

function unescapeAt(text: string, i: number): { value: string; next: number } {
  const ch = text[i + 1];
  if (ch === undefined) throw new UnitSyntaxError('a trailing backslash');
  if (ch in C_ESCAPES) return { value: C_ESCAPES[ch] as string, next: i + 2 };
  if (ch === 'x') {
    const hex = text.slice(i + 2, i + 4);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new UnitSyntaxError(`bad \\x escape in ${JSON.stringify(text)}`);
    return { value: String.fromCharCode(Number.parseInt(hex, 16)), next: i + 4 };
  }
  if (/[0-7]/.test(ch)) {
    const oct = text.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(oct)) throw new UnitSyntaxError(`bad octal escape in ${JSON.stringify(text)}`);
    return { value: String.fromCharCode(Number.parseInt(oct, 8)), next: i + 4 };
  }
  throw new UnitSyntaxError(`unknown escape \\${ch} in ${JSON.stringify(text)}`);
}

/** Splits a (specifier-expanded) value into words like systemd's extract_first_word(UNQUOTE|CUNESCAPE). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    let word = '';
    while (i < text.length && !/\s/.test(text[i] as string)) {
      const ch = text[i] as string;
      if (ch === '"' || ch === "'") {
        const quote = ch;
        i++;
        while (text[i] !== quote) {
          if (i >= text.length) throw new UnitSyntaxError(`unterminated ${quote} in ${JSON.stringify(text)}`);
          if (text[i] === '\\') {
            const e = unescapeAt(text, i);
            word += e.value;
            i = e.next;
          } else word += text[i++];
        }
        i++;
      } else if (ch === '\\') {
        const e = unescapeAt(text, i);
        word += e.value;
        i = e.next;
      } else word += text[i++];
    }
    words.push(word);
  }
  return words;
}

/** Undoes `$$` in an argument; a lone `$NAME`/`${NAME}` would be expanded by systemd, so it is reported. */
function unescapeDollars(word: string): string {
  return word.replace(/\$(\$|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)?/g, (match, rest: string | undefined) => {
    if (rest === '$') return '$';
    if (rest === undefined) return '$';
    throw new UnitSyntaxError(`${match} in ${JSON.stringify(word)} would be expanded by systemd`);
  });
}

/** The argv systemd runs for an `ExecStart=` value (what a reader of the unit must be able to predict). */
export function parseExecLine(value: string): string[] {
  const words = splitWords(expandSpecifiers(value));
  if (words[0] !== undefined && /^[@\-:+!]/.test(words[0]))
    throw new UnitSyntaxError('executable prefixes (@ - : + !) are not used by this generator');
  // Since systemd 233 a lone unquoted ";" separates commands; quoted words never do.
  if (/(^|\s);(\s|$)/.test(value.replace(/"(\\.|[^"\\])*"|'(\\.|[^'\\])*'/g, '""')))
    throw new UnitSyntaxError('an unquoted ";" would start another command');
  return words.map((w, i) => (i === 0 ? w : unescapeDollars(w)));
}

/**
 * The paths of a path-list value (`ReadWritePaths=`), as systemd reads them.
 * systemd does not C-unescape these, but {@link pathListWord} writes no
 * backslash other than `\"`, which both rules read as `"`.
 */
export function parsePathList(value: string): string[] {
  return splitWords(expandSpecifiers(value));
}

/** The assignments of an `Environment=` value. */
export function parseEnvironment(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of splitWords(expandSpecifiers(value))) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new UnitSyntaxError(`not an assignment: ${JSON.stringify(word)}`);
    out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}
