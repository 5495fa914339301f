// The public-API checks as one vitest suite, so each package's test names
// only what differs: its base error, its codes, its exceptions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ErrorConventionSpec, errorConventionProblems } from './error-convention.js';
import { type ReadmeEntry, readmeTableProblems } from './readme-table.js';

/** What a package's public-API test passes. */
export interface PublicApiSpec {
  /** The package's directory, e.g. `new URL('..', import.meta.url)` from its test/ folder. */
  readonly dir: URL;
  /** Its entry module's namespace (`import * as api from '../src/index.js'`). */
  readonly exports: Readonly<Record<string, unknown>>;
  /** Its error convention (a package that throws only argument errors has none). */
  readonly errors?: ErrorConventionSpec;
  /** Whether the README lists every export (default true). */
  readonly readmeTable?: boolean;
}

/** The package's entry modules: every subpath of its exports map that has a `@core/source` file. */
function entriesOf(dir: string): ReadmeEntry[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | Record<string, string>>;
  };
  return Object.entries(manifest.exports).flatMap(([subpath, target]) => {
    const source = typeof target === 'object' ? target['@core/source'] : undefined;
    if (source === undefined) return [];
    return [{ source: join(dir, source), specifier: `${manifest.name}${subpath.slice(1)}` }];
  });
}

/** Registers the checks of the package's public API (each compiles the package once: seconds). */
export function describePublicApi(spec: PublicApiSpec): void {
  const pkg = { dir: fileURLToPath(spec.dir), exports: spec.exports };
  const { errors } = spec;
  describe('the public API', () => {
    if (errors !== undefined)
      it(`follows the error convention: every error an instance of ${errors.base.name}, codes ${errors.codePrefix}<WHAT> in ${errors.codeType}`, {
        timeout: 60_000,
      }, () => {
        expect(errorConventionProblems(pkg, errors)).toEqual([]);
      });
    if (spec.readmeTable !== false)
      it('is listed in the README, one table per entry module, nothing more, nothing less', {
        timeout: 60_000,
      }, () => {
        const problems = readmeTableProblems(
          join(pkg.dir, 'README.md'),
          join(pkg.dir, 'tsconfig.json'),
          entriesOf(pkg.dir),
        );
        expect(problems).toEqual([]);
      });
  });
}
