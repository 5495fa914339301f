import { definePackageProject } from '@tooling/vitest-config';

// Most of this app's tests start real managers and run the CLI several times
// (each run a new Node process): 10 s per test holds on an idle machine only.
// Suites that do more set their own, longer timeouts.
export default definePackageProject('@core/system-manager', { test: { testTimeout: 30_000 } });
