#!/usr/bin/env node
// pnpm release: version the changed packages from .changeset/, build them, and
// publish them to the private registry configured for the @core scope.
// The registry comes from configuration (NPM_CONFIG_REGISTRY, or the
// `@core:registry=` line of the releaser's .npmrc), never from package.json,
// and the public npm registry is refused so nothing internal leaks.
import { execFileSync } from 'node:child_process';

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(1);
}

function configured(key) {
  try {
    const value = execFileSync('npm', ['config', 'get', key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return value && value !== 'undefined' && value !== 'null' ? value : undefined;
  } catch {
    return undefined;
  }
}

const registry = process.env.NPM_CONFIG_REGISTRY || configured('@core:registry');
if (!registry) {
  fail(
    'no private registry configured: set NPM_CONFIG_REGISTRY or add "@core:registry=<url>" to your .npmrc',
  );
}
if (/registry\.npmjs\.org|registry\.yarnpkg\.com/.test(registry)) {
  fail(`refusing to publish internal packages to the public registry ${registry}`);
}

const env = { ...process.env, NPM_CONFIG_REGISTRY: registry, TURBO_TELEMETRY_DISABLED: '1' };
const run = (cmd, args) => {
  console.error(`release: ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', env });
};

run('pnpm', ['changeset', 'version']);
run('pnpm', ['install', '--no-frozen-lockfile']);
run('pnpm', ['build']);
run('pnpm', ['changeset', 'publish']);
