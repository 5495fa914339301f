#!/usr/bin/env node
// pnpm release: version the changed packages from .changeset/, build them,
// check what they would ship, and publish them to the private registry
// configured for the @core scope.
//
// The registry comes from configuration, never from package.json:
// NPM_CONFIG_REGISTRY when exported, else the `@core:registry=` line of the
// releaser's npm config. The public npm registry is refused so nothing
// internal leaks. Every released package is in the @core scope (the app is
// `@core/system-manager`; check-packages refuses an unscoped name, which anyone
// could claim on the public registry), and every publish also gets
// `--registry <that registry>` (with the scope's registry set to the same
// URL), so nothing depends on how the releaser's scope line is spelled.
//
// Steps:
//   1. changeset version — applies .changeset/*.md: versions, changelogs, and
//      a patch for every internal dependent of a bumped package;
//   2. pnpm install — keeps the lockfile in step with the new versions;
//   3. pnpm build;
//   4. scripts/check-packages.mjs on what will be published (pnpm pack +
//      file list + packed manifest + @core scope + publint --strict + attw);
//   5. pnpm publish, dependencies first, for every released package whose
//      version is not on the registry yet. pnpm publish (not `changeset
//      publish`, which picks its registry from env variables only) applies publishConfig
//      (exports without the @core/source condition) and turns `workspace:`
//      ranges into real ones;
//   6. a git tag <name>@<version> per published package.
// A failed run can be repeated: versions already on the registry are skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkPackage } from './check-packages.mjs';
import { normalizeRegistry, publicRegistry, publishedPackages, ROOT } from './lib/workspace.mjs';

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(1);
}

// pnpm exports the whole config it read to scripts as lower-case npm_config_*
// variables: pnpm-only keys npm warns about, and npm_config_registry set to the
// default (public) registry. Children read the npm config files themselves, so
// those are dropped; what the releaser exported in upper case (NPM_CONFIG_*)
// stays.
const baseEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };
for (const key of Object.keys(baseEnv)) {
  if (key.startsWith('npm_config_')) delete baseEnv[key];
}

function configured(key) {
  try {
    const value = execFileSync('npm', ['config', 'get', key], {
      cwd: ROOT,
      encoding: 'utf8',
      env: baseEnv,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return value && value !== 'undefined' && value !== 'null' ? value : undefined;
  } catch {
    return undefined;
  }
}

let registry = process.env.NPM_CONFIG_REGISTRY || configured('@core:registry');
if (!registry) {
  fail(
    'no private registry configured: set NPM_CONFIG_REGISTRY or add "@core:registry=<url>" to your .npmrc',
  );
}
if (!/^https?:\/\/[^/]+/i.test(registry)) {
  fail(`the configured registry ${JSON.stringify(registry)} is not an http(s) URL`);
}
if (normalizeRegistry(registry) === normalizeRegistry(publicRegistry())) {
  fail(`refusing to publish internal packages to the public registry ${registry}`);
}
if (!registry.endsWith('/')) registry += '/';

// Publishing and registry look-ups: one registry, the @core scope's included.
// (Versioning, install and build keep the releaser's own config.)
const publishEnv = {
  ...baseEnv,
  NPM_CONFIG_REGISTRY: registry,
  npm_config_registry: registry,
  'npm_config_@core:registry': registry,
  npm_config_update_notifier: 'false',
};

const run = (cmd, args, options = {}) => {
  console.error(
    `release: ${cmd} ${args.join(' ')}${options.cwd ? `   (in ${path.relative(ROOT, options.cwd)})` : ''}`,
  );
  execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: baseEnv, ...options });
};

/** Whether name@version is on the registry already (a failure other than "not found" stops the release). */
function isPublished(name, version) {
  const result = spawnSync(
    'npm',
    ['view', `${name}@${version}`, 'version', '--json', `--registry=${registry}`],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: publishEnv,
    },
  );
  if (result.status === 0) return result.stdout.trim() !== '';
  if (/E404|404 Not Found|is not in this registry/.test(`${result.stdout}${result.stderr}`)) return false;
  fail(`cannot ask ${registry} about ${name}@${version}:\n${result.stderr || result.stdout}`);
}

console.error(`release: registry ${registry}`);
run('pnpm', ['changeset', 'version']);
run('pnpm', ['install', '--no-frozen-lockfile', '--prefer-offline']);
run('pnpm', ['build']);

const packages = publishedPackages();
const pending = packages.filter((p) => !isPublished(p.name, p.version));
const already = packages.filter((p) => !pending.includes(p));
for (const p of already) console.error(`release: ${p.name}@${p.version} is on the registry already, skipped`);
if (pending.length === 0) {
  console.error('release: nothing to publish (record a change with `pnpm changeset`)');
  process.exit(0);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'core-release-check-'));
try {
  let bad = 0;
  for (const p of pending) {
    const { problems, summary } = await checkPackage(p, tmp);
    if (problems.length === 0) {
      console.error(`release: check ok   ${summary}`);
    } else {
      bad += 1;
      console.error(`release: check FAIL ${p.name}:\n${problems.map((x) => `  - ${x}`).join('\n')}`);
    }
  }
  if (bad > 0) fail(`${bad} package(s) would ship something wrong; nothing was published`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const published = [];
for (const p of pending) {
  try {
    run('pnpm', ['publish', '--registry', registry, '--tag', 'latest', '--no-git-checks'], {
      cwd: p.dir,
      env: publishEnv,
    });
    published.push(p);
  } catch {
    fail(
      `publishing ${p.name}@${p.version} failed; published so far: ${published.map((x) => `${x.name}@${x.version}`).join(', ') || 'none'}. ` +
        'Fix the cause and run `pnpm release` again: published versions are skipped.',
    );
  }
}

for (const p of published) {
  const tag = `${p.name}@${p.version}`;
  const result = spawnSync('git', ['tag', tag], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) console.error(`release: warning: git tag ${tag}: ${result.stderr.trim()}`);
}
console.error(
  `release: published ${published.length} package(s) to ${registry}: ${published.map((p) => `${p.name}@${p.version}`).join(', ')}`,
);
