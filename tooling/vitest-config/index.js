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
        // Type tests live in `*.test-d.ts` files (named for the tool that checks
        // them) and run with every `vitest run`, so `pnpm test` fails on a type
        // error: vitest runs `tsc --noEmit` on the package's tsconfig.json (src,
        // tests, benches — so any type error in the package fails the run, not
        // only one in a test-d file) and reports each expectTypeOf and each
        // unused `@ts-expect-error` as a test. tsc's incremental state goes to
        // vitest's own directory, nothing is written into the package, so
        // turbo's cache of the test task is unaffected. A package without
        // test-d files does not start tsc.
        typecheck: {
          enabled: true,
          include: ['src/**/*.test-d.ts', 'test/**/*.test-d.ts'],
          tsconfig: './tsconfig.json',
        },
        // Every process a test starts inherits this tag through its environment
        // (unless the test sets its own value), so scripts/check-leftovers.mjs
        // can tell CI about any process a suite left running.
        env: { CORE_TEST_RUN_TAG: `vitest-${name}` },
        testTimeout: 10_000,
        hookTimeout: 20_000,
        // Flaky-on-purpose retries hide bugs; multi-process suites set their own timeouts.
        retry: 0,
      },
    }),
    overrides,
  );
}
