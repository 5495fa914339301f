// @ts-check
import { defineProject, mergeConfig } from 'vitest/config';

/**
 * The preset every package's vitest.config.ts extends.
 *
 * `@core/source` is the custom export condition each package declares next to
 * its dist entry: with it, `import '@core/invariants'` in a test loads
 * packages/invariants/src/index.ts, so tests never need a build of a sibling.
 *
 * @param {string} name project name shown by vitest
 * @param {import('vitest/config').UserProjectConfigExport} [overrides]
 */
export function definePackageProject(name, overrides = {}) {
  return mergeConfig(
    defineProject({
      resolve: { conditions: ['@core/source'] },
      ssr: { resolve: { conditions: ['@core/source'] } },
      test: {
        name,
        environment: 'node',
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        // Type tests (expectTypeOf) are checked by `tsc` in the typecheck task, which
        // covers test files; vitest's own typecheck mode writes a temp tsconfig into
        // the package while turbo hashes it, which breaks caching.
        typecheck: { enabled: false },
        testTimeout: 10_000,
        hookTimeout: 20_000,
        // Flaky-on-purpose retries hide bugs; multi-process suites set their own timeouts.
        retry: 0,
      },
    }),
    overrides,
  );
}
