// The one error convention of the workspace, checked on a package's exports:
//   - every exported error class is its package's base or an `instanceof` it
//     (the base is generic in a string-literal union of codes);
//   - each one's `code` is a member of the exported code union, and every
//     member reads `E_<PACKAGE>_<WHAT>` (the package's own prefix);
//   - every `throw new X(` in the package's source names one of those
//     classes, a base it builds on, or a plain TypeError/RangeError (a bad
//     argument: a bug of the caller, not a condition to switch on), or a
//     signal the package throws and catches itself.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DeclaredModule } from './declared.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/** Where a package is and what it exports. */
export interface PackageUnderTest {
  /** The package's directory (with `src/index.ts` and `tsconfig.json`). */
  readonly dir: string;
  /** Its entry module, as imported (the namespace object). */
  readonly exports: Readonly<Record<string, unknown>>;
}

/** The package's error convention. */
export interface ErrorConventionSpec {
  /** The base class every error of the package is an instance of. */
  readonly base: ErrorClass;
  /** The exported type that lists the codes (a union of string literals). */
  readonly codeType: string;
  /** Every code starts with this (`E_SESSION_`). */
  readonly codePrefix: string;
  /** Further error classes the source may throw (those of the package it builds on). */
  readonly alsoThrown?: Readonly<Record<string, unknown>>;
  /** Classes thrown and caught inside the package (never reaching a caller), each with where it is caught. */
  readonly caughtInside?: Readonly<Record<string, string>>;
  /** Source files (relative to `src/`) not scanned for `throw new`, each with why. */
  readonly unscanned?: Readonly<Record<string, string>>;
}

const ARGUMENT_ERRORS = new Set(['TypeError', 'RangeError']);
// Placeholder constructor arguments: an empty array reads as an empty string,
// joins, maps and has a length, so every constructor can build its message.
const PLACEHOLDERS = [[], [], [], [], []] as unknown[];

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && value.prototype instanceof Error;
}

function errorClasses(namespace: Readonly<Record<string, unknown>>): Map<string, ErrorClass> {
  const found = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(namespace)) if (isErrorClass(value)) found.set(name, value);
  return found;
}

/** An instance of `cls`, built with placeholders; one that takes its code first gets `code`. */
function instanceOf(cls: ErrorClass, code: string): Error & { code?: unknown } {
  const Concrete = cls as unknown as new (...args: unknown[]) => Error & { code?: unknown };
  const plain = new Concrete(...PLACEHOLDERS);
  if (typeof plain.code === 'string') return plain;
  return new Concrete(code, 'a message');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.test(-d)?\.ts$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Every way the package breaks the convention, one message each (empty when it keeps it). */
export function errorConventionProblems(pkg: PackageUnderTest, spec: ErrorConventionSpec): string[] {
  const problems: string[] = [];
  const srcDir = join(pkg.dir, 'src');
  const declared = new DeclaredModule(join(srcDir, 'index.ts'), join(pkg.dir, 'tsconfig.json'));
  const codes = declared.stringUnion(spec.codeType);
  for (const code of codes) {
    if (!code.startsWith(spec.codePrefix) || !/^E_[A-Z0-9_]+$/.test(code))
      problems.push(`code ${code} of ${spec.codeType} does not read ${spec.codePrefix}<WHAT>`);
  }
  const own = errorClasses(pkg.exports);
  if (own.size === 0) problems.push('exports no error class');
  for (const [name, cls] of own) {
    if (cls === spec.base) continue;
    let error: Error & { code?: unknown };
    try {
      error = instanceOf(cls, codes[0] ?? 'E_');
    } catch (thrown) {
      problems.push(`${name}: cannot be built to be checked (${(thrown as Error).message})`);
      continue;
    }
    if (!(error instanceof spec.base)) problems.push(`${name} is not an instance of ${spec.base.name}`);
    if (error.name !== name) problems.push(`${name}: its name reads ${JSON.stringify(error.name)}`);
    if (typeof error.code !== 'string' || !codes.includes(error.code))
      problems.push(`${name}: code ${JSON.stringify(error.code)} is not in ${spec.codeType}`);
  }
  const throwable = new Set([
    ...own.keys(),
    ...errorClasses(spec.alsoThrown ?? {}).keys(),
    ...ARGUMENT_ERRORS,
    ...Object.keys(spec.caughtInside ?? {}),
  ]);
  for (const file of sourceFiles(srcDir)) {
    if (Object.hasOwn(spec.unscanned ?? {}, relative(srcDir, file))) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/throw new (\w+)\(/g)) {
      const thrown = match[1] as string;
      if (throwable.has(thrown)) continue;
      const line = text.slice(0, match.index).split('\n').length;
      problems.push(
        `${relative(srcDir, file)}:${line} throws ${thrown}, not an exported error of the package`,
      );
    }
  }
  return problems;
}
