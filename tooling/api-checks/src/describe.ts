// The public-API checks as one vitest suite, so each package's test names
// only what differs: its base error, its codes, its exceptions.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ErrorConventionSpec, errorConventionProblems } from './error-convention.js';

/** What a package's public-API test passes. */
export interface PublicApiSpec {
  /** The package's directory, e.g. `new URL('..', import.meta.url)` from its test/ folder. */
  readonly dir: URL;
  /** Its entry module's namespace (`import * as api from '../src/index.js'`). */
  readonly exports: Readonly<Record<string, unknown>>;
  /** Its error convention. */
  readonly errors: ErrorConventionSpec;
}

/** Registers the checks of the package's public API (each compiles the package once: seconds). */
export function describePublicApi(spec: PublicApiSpec): void {
  const pkg = { dir: fileURLToPath(spec.dir), exports: spec.exports };
  describe('the public API', () => {
    it(`follows the error convention: every error an instance of ${spec.errors.base.name}, codes ${spec.errors.codePrefix}<WHAT> in ${spec.errors.codeType}`, {
      timeout: 60_000,
    }, () => {
      expect(errorConventionProblems(pkg, spec.errors)).toEqual([]);
    });
  });
}
