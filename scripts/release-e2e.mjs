#!/usr/bin/env node
// pnpm test:release [--latest] — the release, proven end to end against a
// real private registry on 127.0.0.1. Nothing here touches the working tree or
// the user's npm config: everything happens in one temp directory.
//
// Two modes:
//  - default (gating, what CI runs): the consumers install every third-party
//    package at the version pnpm-lock.yaml holds (npm `overrides` for the
//    transitive ones, exact versions for their own direct ones; see
//    scripts/lib/lockfile-pins.mjs), and the run fails if anything else was
//    installed. A dependency's release tomorrow cannot fail a change today.
//  - `--latest` (reporting, not gating): no pins, so the consumers get what a
//    team installing today gets; the run lists every package whose version
//    differs from the lockfile and then runs the same checks of the consumer
//    (steps 1–3; the patch release of step 4 tests our release mechanics,
//    which third-party versions do not change). A failure here
//    is news about the outside world, to act on, not a broken change.
//
//  1. verdaccio (the devDependency, 6.8.0 — the last that runs on Node 20) on
//     a free loopback port, config/storage/log in the temp dir, web UI off,
//     no audit middleware.
//  2. `git clone` of HEAD into the temp dir, `pnpm install --frozen-lockfile
//     --prefer-offline`, a changeset for every released package, then the
//     REAL `pnpm release`, with NPM_CONFIG_USERCONFIG pointing at an npmrc
//     written in the temp dir that has only the `@core:registry=` line and a
//     token — no `registry=` line: every package, the app `@core/system-manager`
//     included, is in the scope that line routes.
//  3. In an empty directory outside the workspace: `npm install @core/stats
//     @core/session @core/ports @core/invariants @core/session-redis @core/session-etcd
//     @core/system-manager prom-client`; the installed manifests have real
//     ranges (no `workspace:`) and no `@core/source` condition; an ESM script
//     exercises each package, a CommonJS script (`.cjs`, plain `require()`)
//     does the same, a prom-client script registers the trackers with a real
//     prom-client Registry (Prometheus and OpenMetrics output); a TypeScript
//     file type-checks against them (`tsc --noEmit`, nodenext, strict,
//     `skipLibCheck: false`), and the files tsc loaded include no declaration
//     of ioredis (our types describe what they need themselves);
//     `npx system-manager --help` and `--version` work (the bin of the scoped app).
//  4. A patch changeset for @core/invariants and `pnpm release` again: every
//     dependent gets a patch too, and a fresh install resolves the new
//     invariants everywhere.
//  5. verdaccio is stopped by its PID (also on failure).
//
// Where third-party dependencies (zod, pino, ioredis…) come from: the
// consumers point their whole npm registry at verdaccio, as a team using a
// private registry does. verdaccio serves `@core/*` from its own storage
// only — those names are never proxied, so a public package of the same name
// can never be installed in their place (dependency confusion) — and proxies
// every other name to the public registry (the one
// npm is configured with here, or RELEASE_E2E_UPLINK). Publishing never goes
// upstream.
//
// The temp directory is removed when the run passes and kept, with its path
// printed, when it fails. RELEASE_E2E_KEEP=1 keeps it always, =never removes
// it always (CI's non-gating --latest run: the log tails are printed anyway).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { differences, installedThirdParty, lockfilePins } from './lib/lockfile-pins.mjs';
import { publicRegistry, publishedPackages, ROOT } from './lib/workspace.mjs';

const LATEST = process.argv.includes('--latest');
const unknownArgs = process.argv.slice(2).filter((a) => a !== '--latest');
if (unknownArgs.length > 0) {
  process.stderr.write(
    `usage: node scripts/release-e2e.mjs [--latest]\n(unknown: ${unknownArgs.join(' ')})\n`,
  );
  process.exit(2);
}

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const progress = (message) => process.stdout.write(`release-e2e [${elapsed().padStart(6)}] ${message}\n`);

// The packages a team installs (every one in the @core scope, the app too).
const INSTALLED = [
  '@core/stats',
  '@core/session',
  '@core/ports',
  '@core/invariants',
  '@core/session-redis',
  '@core/session-etcd',
  '@core/system-manager',
];
// A team already on prom-client: the optional peer of @core/stats, from the
// public registry (at the lockfile's version in the gating run).
const PROM_CLIENT = 'prom-client';
const PROM_CLIENT_RANGE = '^15.1.3';
// Third-party packages whose declarations a consumer must never load through
// ours (they have shipped declarations that do not type-check on their own).
const NEVER_LOADED_TYPES = ['ioredis'];
// A release builds and checks every package (about a minute on an idle
// 2-core machine); a loaded one has needed over three.
const RELEASE_TIMEOUT_MS = 600_000;
const PATCHED = '@core/invariants';

/** The environment of a child: the caller's, minus every npm/pnpm setting pnpm exported to this script. */
function baseEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_config_|PNPM_SCRIPT_SRC_DIR$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...extra };
}

/** Runs a command to completion; throws with its output when it fails. */
function run(cmd, args, { cwd, env, timeoutMs = 180_000, logFile } = {}) {
  const result = spawnSync(cmd, args, {
    cwd,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (logFile) writeFileSync(logFile, output);
  if (result.error || result.status !== 0) {
    const why = result.error
      ? result.error.message
      : `exit ${result.status}${result.signal ? ` (${result.signal})` : ''}`;
    const tail = output.split('\n').slice(-60).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${why}\n${tail}`);
  }
  return result;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(url, child, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode} before answering`);
    try {
      const response = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`verdaccio did not answer on ${url} within ${timeoutMs} ms`);
}

async function stopRegistry(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!stopped) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

/** GET a packument (a fresh connection each time: no keep-alive socket the registry may have closed). */
function packument(registry, name) {
  const url = `${registry}${name.replace('/', '%2f')}`;
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${response.statusCode}`));
        else resolve(JSON.parse(body));
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    request.on('error', reject);
  });
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

function writeChangeset(repo, file, bumps, summary) {
  const header = Object.entries(bumps)
    .map(([name, bump]) => `"${name}": ${bump}`)
    .join('\n');
  writeFileSync(path.join(repo, '.changeset', file), `---\n${header}\n---\n\n${summary}\n`);
}

/** The installed manifest of `name` under a consumer directory. */
const installed = (consumer, name) =>
  readJson(path.join(consumer, 'node_modules', ...name.split('/'), 'package.json'));

function checkInstalledManifests(consumer, released) {
  const byName = new Map(released.map((p) => [p.name, p]));
  for (const name of INSTALLED) {
    const manifest = installed(consumer, name);
    assert.equal(manifest.version, byName.get(name).version, `${name}: installed version`);
    assert.ok(
      !JSON.stringify(manifest.exports).includes('@core/source'),
      `${name}: exports still has @core/source`,
    );
    const dir = path.join(consumer, 'node_modules', ...name.split('/'));
    for (const file of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const rel = path
        .relative(dir, path.join(file.parentPath ?? file.path, file.name))
        .split(path.sep)
        .join('/');
      const shipped =
        ['package.json', 'README.md', 'LICENSE'].includes(rel) ||
        /^dist\/.+\.(js|d\.ts)$/.test(rel) ||
        // Published JSON Schemas of file formats (the app's config.schema.json, for editors' "$schema").
        /^[a-z-]+\.schema\.json$/.test(rel);
      assert.ok(shipped && !/\.test\./.test(rel), `${name}: ships ${rel}`);
    }
    for (const field of ['dependencies', 'peerDependencies']) {
      for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
        assert.ok(!range.startsWith('workspace:'), `${name}: ${field} ${dep} is still "${range}"`);
        const sibling = byName.get(dep);
        // Peers keep their declared range (one session for any 0.x); dependencies name the release.
        if (sibling && field === 'dependencies')
          assert.equal(range, `^${sibling.version}`, `${name}: range of ${dep}`);
      }
    }
    // One session per process: the libraries take @core/session as a peer, never a copy of their own.
    if (name === '@core/ports' || name === '@core/session-redis' || name === '@core/session-etcd') {
      assert.equal(
        manifest.dependencies?.['@core/session'],
        undefined,
        `${name}: @core/session as a dependency`,
      );
      assert.ok(manifest.peerDependencies?.['@core/session'], `${name}: @core/session peer`);
    }
  }
}

// What a consumer's ESM code does with each package: real behaviour, not just imports.
const ESM_CHECK = `
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInvariantEngine, defineInvariant } from '@core/invariants';
import { CacheStatisticsTracker, StatsRegistry } from '@core/stats';
import { createSessionManager } from '@core/session';
import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { DEFAULT_CONFIG, parseConfig, SystemManagerError } from '@core/system-manager';

const totalIsSum = defineInvariant({
  id: 'total-is-sum',
  description: 'total == hits + misses',
  check: (s) => (s.total === s.hits + s.misses ? null : { expected: s.hits + s.misses, actual: s.total }),
  heal: (s, v) => {
    const from = s.total;
    s.total = v.expected;
    return { field: 'total', from, to: s.total };
  },
});
const state = { hits: 60, misses: 35, total: 100 };
const report = createInvariantEngine([totalIsSum]).validate(state, { autoHeal: true });
assert.equal(report.consistent, false);
assert.equal(report.converged, true);
assert.equal(state.total, 95);
assert.deepEqual(report.healed.map(String), ['total: 100 → 95']);
console.log('ok @core/invariants: a drifted total healed to 95');

const stats = new CacheStatisticsTracker({ costPerInference: 0.1 });
await stats.recordHit();
await stats.recordHit();
await stats.recordHit();
await stats.recordMiss({ isExpired: true });
assert.equal(stats.costSavedUsd, 0.3);
assert.equal(stats.totalQueries, 4);
const restored = await CacheStatisticsTracker.fromSnapshot({ ...(await stats.getSnapshot()), totalQueries: 100 });
const healed = await restored.validateConsistency();
assert.equal(healed.consistent, false);
assert.equal(restored.totalQueries, 4);
const registry = new StatsRegistry();
await registry.tracker('embeddings').recordHit();
assert.match(registry.metrics(), /^cache_hits_total\\{cache="embeddings"\\} 1$/m);
console.log('ok @core/stats: exact cost 0.3, drifted snapshot healed, Prometheus text');

const dir = mkdtempSync(path.join(os.tmpdir(), 'consumer-session-'));
try {
  const session = createSessionManager({ dir });
  await session.registerResource({ kind: 'vm', id: 'vm-7', zone: 'europe-west4-a' });
  assert.deepEqual((await session.getMyResources()).map((r) => r.id), ['vm-7']);
  assert.ok(session.sessionId in (await session.getAllActiveSessions()));

  // @core/ports reserving through that session: real binds on 127.0.0.1.
  const reserving = createPortRegistry({ api: 18010, ui: 18011 }, { dynamicRange: [30000, 30999], session });
  const resolved = await reserving.resolve({ reserve: true });
  assert.equal(resolved.reserved, true);
  for (const name of ['api', 'ui']) assert.ok(Number.isInteger(resolved.ports[name].port));
  assert.equal((await session.getMyResources()).filter((r) => r.kind === 'port').length, 2);

  assert.equal(await session.unregisterSession(), true);
  assert.ok(!(session.sessionId in (await createSessionManager({ dir }).getAllActiveSessions())));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('ok @core/session: resources recorded in a private registry dir (ports reserved through it), session removed');

const ports = createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES });
ports.backendPort = 8020;
assert.equal(ports.ports.main_api, 8020);
assert.throws(() => {
  ports.ports.frontend = 70000;
}, RangeError);
assert.equal(ports.ports.frontend, 3000);
console.log('ok @core/ports: alias writes through, out-of-range port refused');

const config = parseConfig(DEFAULT_CONFIG);
assert.equal(config.services[0].name, 'cache-service');
assert.equal(config.intervals.validateMs, 30000);
assert.throws(
  () => parseConfig({ dynamicRange: [1] }, 'bad.json'),
  (e) => e instanceof SystemManagerError && e.code === 'E_CONFIG_INVALID' && e.message.includes('dynamicRange'),
);
console.log('ok @core/system-manager: default config parsed, a bad one rejected with E_CONFIG_INVALID');
`;

// The same packages from CommonJS: plain require() of every installed package
// (Node >= 20.19 loads their ESM through require), used for real.
const CJS_CHECK = `'use strict';
const assert = require('node:assert/strict');
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createInvariantEngine, defineInvariant } = require('@core/invariants');
const { CacheStatisticsTracker, StatsRegistry } = require('@core/stats');
const session = require('@core/session');
const { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } = require('@core/ports');
const { RedisRegistryStore, RedisStoreError } = require('@core/session-redis');
const { EtcdSessionStore, EtcdStoreError, etcdEndpointsFromEnv } = require('@core/session-etcd');
const { DEFAULT_CONFIG, parseConfig } = require('@core/system-manager');

async function main() {
  const rule = defineInvariant({
    id: 'total-is-sum',
    description: 'total == hits + misses',
    check: (s) => (s.total === s.hits + s.misses ? null : { expected: s.hits + s.misses }),
    heal: (s, v) => { const from = s.total; s.total = v.expected; return { field: 'total', from, to: s.total }; },
  });
  const state = { hits: 2, misses: 1, total: 9 };
  assert.equal(createInvariantEngine([rule]).validate(state, { autoHeal: true }).converged, true);
  assert.equal(state.total, 3);
  console.log('ok require(@core/invariants): healed a drifted total');

  const registry = new StatsRegistry();
  await registry.tracker('embeddings').recordHit();
  assert.match(registry.metrics(), /^cache_hits_total\\{cache="embeddings"\\} 1$/m);
  assert.ok(new CacheStatisticsTracker() instanceof CacheStatisticsTracker);
  console.log('ok require(@core/stats): Prometheus text');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'consumer-cjs-session-'));
  try {
    const manager = session.createSessionManager({ dir });
    await manager.registerResource({ kind: 'vm', id: 'vm-cjs', zone: 'europe-west4-a' });
    assert.deepEqual((await manager.getMyResources()).map((r) => r.id), ['vm-cjs']);
    const reserving = createPortRegistry({ api: 18110 }, { dynamicRange: [31000, 31999], session: manager });
    assert.equal((await reserving.resolve({ reserve: true })).reserved, true);
    assert.equal(await manager.unregisterSession(), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // require() and import() of one package are one module instance: one process-wide session.
  assert.equal((await import('@core/session')).getSessionManager, session.getSessionManager);
  console.log('ok require(@core/session) + require(@core/ports): a port reserved through the session; require and import share the module');

  const ports = createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES });
  ports.backendPort = 8020;
  assert.equal(ports.ports.main_api, 8020);
  assert.equal(typeof RedisRegistryStore, 'function');
  assert.ok(RedisStoreError.prototype instanceof Error);
  console.log('ok require(@core/session-redis): RedisRegistryStore and its errors');
  assert.equal(typeof EtcdSessionStore, 'function');
  assert.ok(EtcdStoreError.prototype instanceof session.SessionError);
  assert.deepEqual(etcdEndpointsFromEnv({ CORE_SESSION_ETCD_ENDPOINTS: 'http://127.0.0.1:2379,http://127.0.0.1:2381' }), [
    'http://127.0.0.1:2379',
    'http://127.0.0.1:2381',
  ]);
  console.log('ok require(@core/session-etcd): EtcdSessionStore, its errors (SessionErrors) and the endpoints variable');
  assert.equal(parseConfig(DEFAULT_CONFIG).services[0].name, 'cache-service');
  console.log('ok require(@core/system-manager): default config parsed');
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

// A team already on prom-client adds the trackers to its own registry.
const PROM_CHECK = `
import assert from 'node:assert/strict';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { StatsRegistry } from '@core/stats';

const stats = new StatsRegistry();
await stats.tracker('embeddings').recordHit();
for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
  const prom = new Registry(contentType);
  collectDefaultMetrics({ register: prom });
  new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [prom] }).inc(3);
  const unregister = stats.registerWith(prom, { prefix: 'app_', labels: { service: 'api' } });
  await stats.tracker('embeddings').recordHit();
  const text = await prom.metrics();
  assert.match(text, /^app_cache_hits_total\\{service="api",cache="embeddings"\\} \\d+$/m);
  assert.match(text, /^app_requests_total 3$/m);
  assert.match(text, /^process_cpu_user_seconds_total /m);
  if (contentType === Registry.OPENMETRICS_CONTENT_TYPE) assert.ok(text.endsWith('# EOF\\n'));
  unregister();
  assert.doesNotMatch(await prom.metrics(), /app_cache_/);
  assert.match(await prom.metrics(), /^process_cpu_user_seconds_total /m);
  console.log('ok prom-client: trackers registered and unregistered (' + contentType.split(';')[0] + '), default metrics untouched');
}
`;

// The same packages from TypeScript (nodenext): the shipped .d.ts must be found
// through the exports map, and wrong uses must not compile.
const TS_CHECK = `
import { createInvariantEngine, defineInvariant, type ValidationReport } from '@core/invariants';
import { CacheStatisticsTracker, type StatsSnapshot } from '@core/stats';
import { createSessionManager, type ResourceRecord } from '@core/session';
import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { parseConfig, type SystemManagerConfig, type SystemManagerErrorCode } from '@core/system-manager';
import { RedisSessionStore, type RedisSessionStoreOptions, type LeaseRenewal } from '@core/session-redis';
import { EtcdSessionStore, type EtcdSessionStoreOptions, type FencedCleanup } from '@core/session-etcd';

interface Counters {
  hits: number;
  misses: number;
  total: number;
}
const rule = defineInvariant<Counters>({
  id: 'total-is-sum',
  description: 'total == hits + misses',
  check: (s) => (s.total === s.hits + s.misses ? null : { expected: s.hits + s.misses }),
});
const report: ValidationReport = createInvariantEngine([rule]).validate({ hits: 1, misses: 1, total: 2 });
export const consistent: boolean = report.consistent;

const tracker = new CacheStatisticsTracker({ costPerInference: 0.1 });
export const snapshot: Promise<StatsSnapshot> = tracker.getSnapshot();
// @ts-expect-error costPerInference is a number
new CacheStatisticsTracker({ costPerInference: 'free' });

const registry = createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES });
export const backend: number = registry.backendPort;
// @ts-expect-error not a configured port name
registry.ports.nope;

export const resources: Promise<ResourceRecord[]> = createSessionManager({ dir: '/tmp/x' }).getMyResources();
export const config: SystemManagerConfig = parseConfig({});
export const code: SystemManagerErrorCode = 'E_CONFIG_INVALID';
// @ts-expect-error not an error code of the app
export const wrong: SystemManagerErrorCode = 'E_NOPE';

const redisOptions: RedisSessionStoreOptions = { url: 'redis://127.0.0.1:1/0', keyPrefix: '{core}:' };
export const makeStore = (): RedisSessionStore => new RedisSessionStore(redisOptions);
export const onRenewal = (renewal: LeaseRenewal): string => renewal.outcome;

const etcdOptions: EtcdSessionStoreOptions = { endpoints: ['http://127.0.0.1:2379'], keyPrefix: 'fleet-a/' };
export const makeEtcdStore = (): EtcdSessionStore => new EtcdSessionStore(etcdOptions);
// @ts-expect-error endpoints is a list of URLs
export const badEtcd: EtcdSessionStoreOptions = { endpoints: 2379 };
export type Cleanup = FencedCleanup;
`;

// TypeScript CommonJS code (a .cts file, `import x = require()`): with
// module nodenext (TypeScript >= 5.8) the ESM-only packages type-check from CJS too.
const CTS_CHECK = `
import stats = require('@core/stats');
import ports = require('@core/ports');
import app = require('@core/system-manager');
export const registry: stats.StatsRegistry = new stats.StatsRegistry();
export const backend: number = ports.createPortRegistry(ports.DEFAULT_PORTS, { aliases: ports.DEFAULT_ALIASES }).backendPort;
export const code: app.SystemManagerErrorCode = 'E_CONFIG_INVALID';
// @ts-expect-error not an export of @core/stats
stats.nope;
`;

async function main() {
  const tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'core-release-e2e-')));
  if (tmp.startsWith(`${ROOT}${path.sep}`)) throw new Error(`temp dir ${tmp} is inside the workspace`);
  let registryProcess;
  let ok = false;
  try {
    // --- 1. the registry ---------------------------------------------------
    const uplink =
      process.env.RELEASE_E2E_UPLINK ||
      spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', env: baseEnv() }).stdout.trim() ||
      publicRegistry();
    const port = await freePort();
    const registry = `http://127.0.0.1:${port}/`;
    const registryDir = path.join(tmp, 'registry');
    mkdirSync(registryDir);
    const yamlString = (s) => JSON.stringify(s);
    writeFileSync(
      path.join(registryDir, 'config.yaml'),
      [
        `storage: ${yamlString(path.join(registryDir, 'storage'))}`,
        `listen: 127.0.0.1:${port}`,
        'web:',
        '  enable: false',
        '# no `middlewares:` entry, so the audit middleware is not loaded at all',
        'uplinks:',
        '  public:',
        `    url: ${yamlString(uplink)}`,
        'packages:',
        '  # ours: served from storage only, never proxied',
        "  '@core/*':",
        '    access: $all',
        '    publish: $all',
        '  # third-party dependencies of the packages, fetched from the public registry',
        "  '**':",
        '    access: $all',
        '    publish: $all',
        '    proxy: public',
        'log:',
        '  type: file',
        `  path: ${yamlString(path.join(registryDir, 'verdaccio.log'))}`,
        '  level: warn',
        '',
      ].join('\n'),
    );
    const verdaccioBin = path.join(ROOT, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
    const out = openSync(path.join(registryDir, 'verdaccio.out'), 'w');
    registryProcess = spawn(
      process.execPath,
      [verdaccioBin, '--config', path.join(registryDir, 'config.yaml')],
      {
        cwd: registryDir,
        env: baseEnv(),
        stdio: ['ignore', out, out],
      },
    );
    await waitUntilAnswering(registry, registryProcess);
    progress(
      `verdaccio 6.8.0 answering on ${registry} (pid ${registryProcess.pid}; third-party names proxied to ${uplink})`,
    );

    const token = `//127.0.0.1:${port}/:_authToken=anonymous-local`;
    const releaseNpmrc = path.join(tmp, 'release.npmrc');
    writeFileSync(releaseNpmrc, `@core:registry=${registry}\n${token}\nupdate-notifier=false\n`);
    const consumerNpmrc = path.join(tmp, 'consumer.npmrc');
    writeFileSync(
      consumerNpmrc,
      `registry=${registry}\n@core:registry=${registry}\n${token}\nupdate-notifier=false\nfund=false\naudit=false\n`,
    );
    // npm's cache and logs in the temp dir too; NPM_CONFIG_YES=false: npx runs
    // the installed bin and never fetches a package of that name instead.
    const npmDirs = {
      NPM_CONFIG_CACHE: path.join(tmp, 'npm-cache'),
      NPM_CONFIG_LOGS_DIR: path.join(tmp, 'npm-logs'),
      NPM_CONFIG_YES: 'false',
    };
    const releaseEnv = baseEnv({ NPM_CONFIG_USERCONFIG: releaseNpmrc, ...npmDirs });
    const consumerEnv = baseEnv({ NPM_CONFIG_USERCONFIG: consumerNpmrc, ...npmDirs });

    // --- 2. the first release from a clone of HEAD ---------------------------
    const repo = path.join(tmp, 'repo');
    run('git', ['clone', '--quiet', ROOT, repo], { env: baseEnv() });
    const head = run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo }).stdout.trim();
    run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline'], {
      cwd: repo,
      env: baseEnv(),
      logFile: path.join(tmp, 'install.log'),
    });
    progress(`cloned HEAD ${head} and installed it (frozen lockfile)`);
    // What the lockfile resolves for a consumer of our packages (plus prom-client).
    const pins = lockfilePins(repo, { extra: [PROM_CLIENT] });
    const promClient = LATEST
      ? `${PROM_CLIENT}@${PROM_CLIENT_RANGE}`
      : `${PROM_CLIENT}@${pins.direct[PROM_CLIENT]}`;
    const consumerManifest = {
      name: 'consumer',
      private: true,
      type: 'module',
      ...(LATEST ? {} : { overrides: pins.overrides }),
    };
    progress(
      LATEST
        ? 'newest-dependencies run: third-party packages resolve to what a team installing today gets (not gating)'
        : `gating run: ${pins.versions.size} third-party packages pinned to pnpm-lock.yaml's versions (npm overrides)`,
    );

    // The guard first: no registry configured, or the public one, stops the
    // release before anything is versioned.
    const emptyNpmrc = path.join(tmp, 'empty.npmrc');
    writeFileSync(emptyNpmrc, 'update-notifier=false\n');
    for (const [why, extra, expected] of [
      ['no registry configured', { NPM_CONFIG_USERCONFIG: emptyNpmrc }, /no private registry configured/],
      [
        'the public registry',
        { NPM_CONFIG_USERCONFIG: releaseNpmrc, NPM_CONFIG_REGISTRY: publicRegistry() },
        /refusing to publish internal packages to the public registry/,
      ],
    ]) {
      const refused = spawnSync('pnpm', ['release'], {
        cwd: repo,
        env: baseEnv({ ...npmDirs, ...extra }),
        encoding: 'utf8',
      });
      assert.notEqual(refused.status, 0, `pnpm release with ${why} must fail`);
      assert.match(refused.stderr, expected, `pnpm release with ${why}`);
    }
    assert.equal(
      run('git', ['status', '--porcelain'], { cwd: repo }).stdout,
      '',
      'a refused release changed files',
    );
    progress('pnpm release refuses to run with no registry configured and with the public registry');

    const toRelease = publishedPackages(repo);
    writeChangeset(
      repo,
      'release-e2e-all.md',
      Object.fromEntries(toRelease.map((p) => [p.name, 'patch'])),
      'End-to-end release test: release every package.',
    );
    run('pnpm', ['release'], {
      cwd: repo,
      env: releaseEnv,
      logFile: path.join(tmp, 'release-1.log'),
      timeoutMs: RELEASE_TIMEOUT_MS,
    });
    assertPublishedTo(path.join(tmp, 'release-1.log'), registry, toRelease.length);
    const first = publishedPackages(repo);
    for (const p of first) {
      const doc = await packument(registry, p.name);
      assert.equal(doc['dist-tags']?.latest, p.version, `${p.name}: latest on the registry`);
    }
    progress(`pnpm release published ${first.map((p) => `${p.name}@${p.version}`).join(', ')}`);

    // --- 3. a team installs them ---------------------------------------------
    const consumer = path.join(tmp, 'consumer');
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify(consumerManifest, null, 2)}\n`);
    run('npm', ['install', ...INSTALLED, promClient], {
      cwd: consumer,
      env: consumerEnv,
      logFile: path.join(tmp, 'consumer-install.log'),
    });
    checkInstalledManifests(consumer, first);
    checkThirdParty(consumer, consumerEnv, pins);
    const sessions = installedVersions(consumer, consumerEnv, '@core/session');
    assert.deepEqual(
      sessions,
      [first.find((p) => p.name === '@core/session').version],
      "one @core/session in the install (the peer of ports and session-redis is the app's copy)",
    );
    const app = installed(consumer, '@core/system-manager');
    assert.deepEqual(app.bin, { 'system-manager': './dist/cli.js' }, '@core/system-manager: bin');
    progress(
      `npm install ${[...INSTALLED, promClient].join(' ')}: real ^ranges, no @core/source, no src/; ` +
        `the app is @core/system-manager@${app.version} from ${registry}`,
    );

    writeFileSync(path.join(consumer, 'check.mjs'), ESM_CHECK);
    const esm = run(process.execPath, ['check.mjs'], { cwd: consumer, env: consumerEnv });
    for (const line of esm.stdout.trim().split('\n')) progress(`  ESM ${line}`);

    writeFileSync(path.join(consumer, 'check.cjs'), CJS_CHECK);
    const cjs = run(process.execPath, ['check.cjs'], { cwd: consumer, env: consumerEnv });
    assert.equal(cjs.stderr, '', 'check.cjs: nothing on stderr (no warning from require of ESM)');
    for (const line of cjs.stdout.trim().split('\n')) progress(`  CJS ${line}`);

    writeFileSync(path.join(consumer, 'check-prom.mjs'), PROM_CHECK);
    const prom = run(process.execPath, ['check-prom.mjs'], { cwd: consumer, env: consumerEnv });
    for (const line of prom.stdout.trim().split('\n')) progress(`  ${line}`);

    writeFileSync(path.join(consumer, 'check.ts'), TS_CHECK);
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            exactOptionalPropertyTypes: true,
            // A consumer's default: every declaration file it loads is checked.
            skipLibCheck: false,
            noEmit: true,
            // A Node consumer has @types/node; the workspace's copy stands in for it.
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          },
          files: ['check.ts'],
        },
        null,
        2,
      ),
    );
    const tscBin = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tscBin, '-p', 'tsconfig.json'], { cwd: consumer, env: consumerEnv });
    // The files that check loaded (listed without checking again).
    const loaded = run(process.execPath, [tscBin, '-p', 'tsconfig.json', '--listFilesOnly'], {
      cwd: consumer,
      env: consumerEnv,
    })
      .stdout.split('\n')
      .filter(Boolean);
    for (const name of NEVER_LOADED_TYPES) {
      const files = loaded.filter((f) => f.includes(`/node_modules/${name}/`));
      assert.deepEqual(files, [], `tsc loaded ${name}'s declarations through ours`);
    }
    writeFileSync(path.join(consumer, 'check-cjs.cts'), CTS_CHECK);
    const tsconfig = readJson(path.join(consumer, 'tsconfig.json'));
    writeFileSync(
      path.join(consumer, 'tsconfig.cjs.json'),
      JSON.stringify({ ...tsconfig, files: ['check-cjs.cts'] }, null, 2),
    );
    run(process.execPath, [tscBin, '-p', 'tsconfig.cjs.json'], { cwd: consumer, env: consumerEnv });
    progress(
      `tsc --noEmit (nodenext, strict, skipLibCheck false) against the installed types, from ESM (.ts) and CommonJS (.cts, import = require): ok, and the wrong uses are errors; ${loaded.length} files loaded, none of ${NEVER_LOADED_TYPES.join(', ')}`,
    );

    const help = run('npx', ['system-manager', '--help'], { cwd: consumer, env: consumerEnv });
    assert.match(help.stdout, /^Usage: system-manager /m, 'npx system-manager --help: usage on stdout');
    assert.equal(help.stderr, '', 'npx system-manager --help: stderr');
    const version = run('npx', ['system-manager', '--version'], { cwd: consumer, env: consumerEnv });
    const appVersion = first.find((p) => p.name === '@core/system-manager').version;
    assert.equal(version.stdout.trim(), appVersion, 'npx system-manager --version');
    progress(
      `npx system-manager (bin of @core/system-manager) --help: exit 0, usage on stdout, nothing on stderr; --version ${appVersion}`,
    );
    // The installed bin's read-only commands are bundles (apps/system-manager/scripts/bundle-read-only.mjs):
    // they must read a real session record in the installed layout too.
    const sessionDir = path.join(consumer, 'e2e-sessions');
    writeFileSync(
      path.join(consumer, 'own-vm.mjs'),
      [
        "import { createSessionManager } from '@core/session';",
        'const m = createSessionManager({ dir: process.argv[2] });',
        "if (!(await m.registerVm('vm-e2e', 'zone-a', []))) process.exit(1);",
        'console.log(m.sessionId);',
      ].join('\n'),
    );
    const owner = run(process.execPath, ['own-vm.mjs', sessionDir], { cwd: consumer, env: consumerEnv });
    const ownerId = owner.stdout.trim();
    const status = run('npx', ['system-manager', 'status', '--json'], {
      cwd: consumer,
      env: { ...consumerEnv, CORE_SESSION_DIR: sessionDir },
    });
    const listed = JSON.parse(status.stdout).sessions.find((s) => s.sessionId === ownerId);
    assert.ok(listed, `npx system-manager status --json lists session ${ownerId}: ${status.stdout}`);
    assert.equal(listed.liveness, 'dead', 'its process has exited');
    progress(
      `npx system-manager status --json (the bundled read-only command): lists the exited session ${ownerId} as dead`,
    );

    // --- 4. a patch of one package -------------------------------------------
    // Our own release mechanics: the newest third-party releases change
    // nothing here, so the --latest run stops after the consumer's checks.
    if (LATEST) {
      ok = true;
      return { first, dependents: null, patched: null };
    }
    const git = ['-c', 'user.name=release-e2e', '-c', 'user.email=release-e2e@localhost'];
    run('git', [...git, 'add', '-A'], { cwd: repo });
    run('git', [...git, 'commit', '--quiet', '-m', 'Version packages'], { cwd: repo });
    writeChangeset(repo, 'release-e2e-fix.md', { [PATCHED]: 'patch' }, 'End-to-end release test: a fix.');
    run('pnpm', ['release'], {
      cwd: repo,
      env: releaseEnv,
      logFile: path.join(tmp, 'release-2.log'),
      timeoutMs: RELEASE_TIMEOUT_MS,
    });
    const second = publishedPackages(repo);
    const before = new Map(first.map((p) => [p.name, p.version]));
    const changed = second.filter((p) => before.get(p.name) !== p.version);
    assertPublishedTo(path.join(tmp, 'release-2.log'), registry, changed.length);
    const patched = second.find((p) => p.name === PATCHED);
    const dependents = second.filter((p) => p.name !== PATCHED && dependsOn(second, p, PATCHED));
    for (const p of [patched, ...dependents]) {
      assert.equal(p.version, bumpPatch(before.get(p.name)), `${p.name}: patch bump`);
      const doc = await packument(registry, p.name);
      assert.equal(doc['dist-tags']?.latest, p.version, `${p.name}: latest after the patch release`);
    }
    assert.ok(
      dependents.length >= 4,
      `expected the dependents of ${PATCHED} to be bumped, got ${dependents.length}`,
    );
    progress(
      `patch release: ${PATCHED} ${before.get(PATCHED)} → ${patched.version}; dependents bumped and published: ${dependents
        .map((p) => `${p.name}@${p.version}`)
        .join(', ')}`,
    );

    const fresh = path.join(tmp, 'consumer-fresh');
    mkdirSync(fresh);
    writeFileSync(path.join(fresh, 'package.json'), readFileSync(path.join(consumer, 'package.json')));
    run('npm', ['install', ...INSTALLED], {
      cwd: fresh,
      env: consumerEnv,
      logFile: path.join(tmp, 'consumer-fresh.log'),
    });
    checkInstalledManifests(fresh, second);
    checkThirdParty(fresh, consumerEnv, pins);
    assert.deepEqual(
      installedVersions(fresh, consumerEnv, PATCHED),
      [patched.version],
      `every ${PATCHED} in the fresh install`,
    );
    writeFileSync(path.join(fresh, 'check.mjs'), ESM_CHECK);
    run(process.execPath, ['check.mjs'], { cwd: fresh, env: consumerEnv });
    progress(
      `fresh install resolves ${PATCHED}@${patched.version} for every dependent; the ESM checks pass on it`,
    );

    ok = true;
    return { first, dependents, patched };
  } catch (error) {
    for (const log of ['release-1.log', 'release-2.log', 'registry/verdaccio.log']) {
      const file = path.join(tmp, log);
      if (existsSync(file)) {
        process.stderr.write(
          `\n--- last lines of ${file}\n${readFileSync(file, 'utf8').split('\n').slice(-40).join('\n')}\n`,
        );
      }
    }
    throw error;
  } finally {
    await stopRegistry(registryProcess);
    if (registryProcess) progress(`verdaccio (pid ${registryProcess.pid}) stopped`);
    const keep = process.env.RELEASE_E2E_KEEP;
    if (keep === 'never' || (ok && !keep)) rmSync(tmp, { recursive: true, force: true });
    else process.stderr.write(`release-e2e: kept ${tmp}\n`);
  }
}

/**
 * The consumer's third-party packages against the lockfile: in the gating run
 * every one must be at the lockfile's version; with --latest the differences
 * are what a team installing today gets, and are listed.
 */
function checkThirdParty(consumer, env, pins) {
  const ours = new Set(INSTALLED);
  const diff = differences(
    pins.versions,
    installedThirdParty(consumer, env, (name) => ours.has(name)),
  );
  const lines = diff.map(
    (d) =>
      `    ${d.name}: lockfile ${d.lockfile.join(', ') || '(none)'}, installed ${d.installed.join(', ')}`,
  );
  if (LATEST) {
    progress(
      diff.length === 0
        ? 'newest dependencies: every third-party package is at the lockfile version'
        : `newest dependencies: ${diff.length} package(s) differ from pnpm-lock.yaml:\n${lines.join('\n')}`,
    );
    return;
  }
  assert.deepEqual(lines, [], `${consumer}: third-party packages not at the lockfile's versions`);
  progress(`every third-party package in ${path.basename(consumer)} is at its pnpm-lock.yaml version`);
}

/** Every version of `name` anywhere in a consumer's install tree (`npm ls --all`). */
function installedVersions(consumer, env, name) {
  const ls = JSON.parse(run('npm', ['ls', name, '--all', '--json'], { cwd: consumer, env }).stdout || '{}');
  const versions = new Set();
  const walk = (node) => {
    for (const [dep, child] of Object.entries(node.dependencies ?? {})) {
      if (dep === name) versions.add(child.version);
      walk(child);
    }
  };
  walk(ls);
  return [...versions];
}

/** Every publish of the release went to the private registry (npm prints one line per package). */
function assertPublishedTo(logFile, registry, count) {
  const lines = readFileSync(logFile, 'utf8').match(/^npm notice Publishing to .*$/gm) ?? [];
  assert.equal(lines.length, count, `${logFile}: number of publishes`);
  for (const line of lines) assert.ok(line.includes(`Publishing to ${registry} `), `${logFile}: ${line}`);
}

function dependsOn(packages, pkg, target, seen = new Set()) {
  const deps = Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies });
  if (deps.includes(target)) return true;
  seen.add(pkg.name);
  return deps.some((dep) => {
    const next = packages.find((p) => p.name === dep);
    return next && !seen.has(dep) && dependsOn(packages, next, target, seen);
  });
}

function bumpPatch(version) {
  const [major, minor, patch] = version.split('.').map(Number);
  return `${major}.${minor}.${patch + 1}`;
}

try {
  const { first, dependents, patched } = await main();
  progress(
    `PASS${LATEST ? ' (newest dependencies)' : ''}: released ${first.length} packages to a private verdaccio, installed and used them from ESM, CommonJS, prom-client, TypeScript and npx; ` +
      (patched
        ? `a patch of ${patched.name} re-released ${dependents.length} dependents and a fresh install resolves it (${elapsed()})`
        : `the patch release (step 4) is not repeated with the newest dependencies (${elapsed()})`),
  );
} catch (error) {
  if (LATEST) {
    process.stderr.write(
      'release-e2e --latest: a consumer installing today with the newest third-party releases would hit the failure below (the gating run pins the lockfile)\n',
    );
  }
  process.stderr.write(
    `release-e2e: FAIL after ${elapsed()}: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exitCode = 1;
}
