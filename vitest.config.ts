import { defineConfig } from 'vitest/config';

// One root command runs every package's tests: `pnpm vitest run` (turbo's `pnpm test` runs them per package, cached).
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
