#!/usr/bin/env node
// pnpm check:packages [name…]: what each published package would ship, checked
// on the real tarball. For every non-private workspace package (or the ones
// named) it runs `pnpm pack` (which applies publishConfig and rewrites
// `workspace:` ranges exactly as `pnpm publish` does) and checks:
//   - the tarball holds only package.json, README.md, LICENSE and dist/**
//     (.js + .d.ts): no sources, tests, maps, build info or benches;
//   - every file the manifest points at (exports, bin, types) is in it;
//   - the packed package.json has no `workspace:` range, no `@core/source`
//     export condition (that condition is for this repository's own tests and
//     points at src/, which is not shipped), and no registry host;
//   - the name is in the @core scope and access is restricted (an unscoped
//     name can be claimed by anyone on the public registry, and a team that
//     forgets its registry would install that stranger's package);
//   - every exports entry has `types` first and ends in `default` (so
//     `require()` resolves it on Node >= 20.19, which loads ESM through
//     require; `import` alone gives ERR_PACKAGE_PATH_NOT_EXPORTED);
//   - publint --strict on that tarball (warnings fail too);
//   - @arethetypeswrong/cli on that same tarball (the one pnpm would publish,
//     not `attw --pack`'s npm pack, which ignores publishConfig.exports), with
//     the esm-only profile: the packages ship one ESM build, which CommonJS
//     reaches through require(esm) at run time; TypeScript's node16-cjs mode
//     cannot express that, so that resolution (and node10) is not judged. The
//     release e2e requires every package from a real .cjs consumer instead.
//     attw reads the local tarball only; nothing is downloaded;
//   - the shipped declarations reach no third-party package's types (from
//     every `types` entry of the exports map, following relative imports):
//     a consumer would otherwise type-check that dependency's declarations
//     and fail whenever a release of it ships broken ones. Node built-ins and
//     our own @core packages are fine; TYPE_DEPENDENCIES lists the exceptions.
// Needs a build (`pnpm build`) first.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { leakedDependencies, packageOf } from './lib/declaration-imports.mjs';
import { DEPENDENCY_FIELDS, publishedPackages } from './lib/workspace.mjs';

const ALWAYS = new Set(['package.json', 'README.md', 'LICENSE']);
const SHIPPED = /^dist\/(?:[\w.-]+\/)*[\w.-]+\.(?:js|d\.ts)$/;
// Published JSON Schemas of a package's file formats (system-manager's config.schema.json, for editors' "$schema").
const SCHEMA_FILE = /^[\w.-]+\.schema\.json$/;
// Third-party packages whose types the published declarations may still
// name, each with its reason; any other reachable import fails the check.
// Both ship their own declarations (no untyped transitive imports) and are
// pinned by our dependency range; the public API that names them (the
// session's and the app's zod schemas, the app's pino Logger) is to be
// narrowed to our own types.
const TYPE_DEPENDENCIES = new Map([
  ['@core/session', new Set(['zod'])],
  ['@core/system-manager', new Set(['zod', 'pino'])],
]);
const FORBIDDEN = /\.test\.|\.spec\.|\.map$|\.tsbuildinfo$|(?:^|\/)(?:src|test|bench|fixtures)\//;

/** Every relative file path a manifest field points at (exports targets, bin, types, main). */
function manifestTargets(manifest) {
  const targets = new Set();
  const walk = (value) => {
    if (typeof value === 'string') targets.add(value.replace(/^\.\//, ''));
    else if (value && typeof value === 'object') for (const v of Object.values(value)) walk(v);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  walk(manifest.types);
  walk(manifest.main);
  return [...targets].filter((t) => !t.includes('*'));
}

/** The conditions used anywhere in an exports map. */
function conditions(exportsField, out = new Set()) {
  if (exportsField && typeof exportsField === 'object') {
    for (const [key, value] of Object.entries(exportsField)) {
      if (!key.startsWith('.')) out.add(key);
      conditions(value, out);
    }
  }
  return out;
}

/**
 * Problems of the exports map for CommonJS consumers: each subpath object
 * lists `types` first and `default` last, so every resolver (TypeScript,
 * `import`, `require`) finds its entry.
 */
function exportsProblems(exportsField) {
  const problems = [];
  for (const [subpath, target] of Object.entries(exportsField ?? {})) {
    if (typeof target !== 'object' || target === null) continue;
    const keys = Object.keys(target);
    if (keys.includes('types') && keys[0] !== 'types')
      problems.push(`exports["${subpath}"]: "types" must come first (got ${keys.join(', ')})`);
    if (keys.at(-1) !== 'default')
      problems.push(
        `exports["${subpath}"]: no "default" condition last, so require() cannot resolve it (got ${keys.join(', ')})`,
      );
  }
  return problems;
}

const ATTW = createRequire(import.meta.url)
  .resolve('@arethetypeswrong/cli/package.json')
  .replace(/package\.json$/, 'dist/index.js');

/** attw on a tarball (esm-only profile): the problems it reports, as messages. */
function attwProblems(tarball) {
  const result = spawnSync(
    process.execPath,
    [ATTW, tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'json'],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  let report;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    return [
      `attw did not run: exit ${result.status}: ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
    ];
  }
  // The esm-only profile ignores these resolution kinds (see the header).
  const ignored = new Set(['node10', 'node16-cjs']);
  const problems = [];
  for (const list of Object.values(report.problems ?? {})) {
    for (const problem of list) {
      if (ignored.has(problem.resolutionKind)) continue;
      problems.push(
        `attw ${problem.kind}${problem.entrypoint ? ` at "${problem.entrypoint}"` : ''}${problem.resolutionKind ? ` (${problem.resolutionKind})` : ''}`,
      );
    }
  }
  if (problems.length === 0 && result.status !== 0)
    problems.push(`attw exited ${result.status}: ${result.stderr.trim().slice(0, 500)}`);
  return problems;
}

/** Entry declaration files of an exports map (every `types` target). */
function typeEntries(exportsField, out = []) {
  if (typeof exportsField === 'string') {
    if (exportsField.endsWith('.d.ts')) out.push(exportsField);
  } else if (exportsField && typeof exportsField === 'object') {
    for (const value of Object.values(exportsField)) typeEntries(value, out);
  }
  return out;
}

/** Third-party packages the tarball's declarations make a consumer load (see the header). */
function typeLeaks(manifest, tarball, dest) {
  const unpacked = path.join(dest, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  const root = path.join(unpacked, 'package');
  const entries = [...new Set(typeEntries(manifest.exports))].map((e) => path.join(root, e));
  const ours = new Set(publishedPackages().map((p) => p.name));
  const allowed = TYPE_DEPENDENCIES.get(manifest.name) ?? new Set();
  return leakedDependencies(entries, root, ours)
    .filter(({ specifier }) => !allowed.has(packageOf(specifier)))
    .map(
      ({ specifier, chain }) =>
        `its declarations import "${specifier}" (${chain.join(' → ')}): a consumer would type-check that package's types; describe it with our own type`,
    );
}

/** Check one package; returns a list of problems (empty when it is fine) and a summary. */
export async function checkPackage(pkg, tmp) {
  const problems = [];
  const distDir = path.join(pkg.dir, 'dist');
  if (!existsSync(distDir)) {
    return { problems: [`${pkg.rel}/dist does not exist: run \`pnpm build\` first`], summary: '' };
  }
  const dest = mkdtempSync(path.join(tmp, 'pack-'));
  const packed = JSON.parse(
    execFileSync('pnpm', ['pack', '--pack-destination', dest, '--json'], {
      cwd: pkg.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const tarball = packed.filename;
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  const manifest = JSON.parse(
    execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
  );

  for (const file of files) {
    if (ALWAYS.has(file) || SCHEMA_FILE.test(file)) continue;
    if (!SHIPPED.test(file) || FORBIDDEN.test(file))
      problems.push(`ships ${file} (only dist/**/*.js, .d.ts, *.schema.json, README.md, LICENSE)`);
  }
  for (const required of ALWAYS) {
    if (!files.includes(required)) problems.push(`does not ship ${required}`);
  }
  if (!files.some((f) => f.endsWith('.d.ts'))) problems.push('ships no type declarations');
  for (const target of manifestTargets(manifest)) {
    if (!files.includes(target))
      problems.push(`package.json points at ${target}, which is not in the tarball`);
  }
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:'))
        problems.push(`${field}.${dep} is still "${range}" in the tarball`);
    }
  }
  if (conditions(manifest.exports).has('@core/source')) {
    problems.push(
      'the packed exports still carry the @core/source condition (publishConfig.exports not applied)',
    );
  }
  const registryHost = JSON.stringify(manifest).match(/"(?:@[\w-]+:)?registry"\s*:\s*"[^"]*"/);
  if (registryHost)
    problems.push(`the manifest names a registry (${registryHost[0]}); it must come from npm config`);
  if (!String(manifest.name).startsWith('@core/'))
    problems.push(`${manifest.name} is not in the @core scope: publish it as @core/<name>`);
  if (manifest.publishConfig?.access !== 'restricted')
    problems.push('publishConfig.access is not "restricted"');
  if (manifest.license !== 'MIT')
    problems.push(`license is ${JSON.stringify(manifest.license)}, expected "MIT"`);

  problems.push(...exportsProblems(manifest.exports));
  problems.push(...typeLeaks(manifest, tarball, dest));
  problems.push(...attwProblems(tarball));

  const bytes = readFileSync(tarball);
  const { messages, pkg: linted } = await publint({
    // The files come from the tarball itself (pkgDir is inferred from it).
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    strict: true,
    level: 'suggestion',
  });
  const notes = [];
  for (const message of messages) {
    const text = `publint ${message.type}: ${formatMessage(message, linted) ?? message.code}`;
    if (message.type === 'suggestion') notes.push(text);
    else problems.push(text);
  }
  const dist = files.filter((f) => f.startsWith('dist/')).length;
  const summary = `${manifest.name}@${manifest.version}: ${files.length} files (dist ${dist}, README.md, LICENSE, package.json), publint and attw (esm-only) clean, declarations reach no third-party types${allowedNote(manifest.name)}`;
  return { problems, notes, summary };
}

const allowedNote = (name) =>
  TYPE_DEPENDENCIES.has(name) ? ` but ${[...TYPE_DEPENDENCIES.get(name)].join(', ')}` : '';

async function main() {
  const wanted = process.argv.slice(2);
  const all = publishedPackages();
  const unknown = wanted.filter((name) => !all.some((p) => p.name === name));
  if (unknown.length > 0) {
    console.error(`check-packages: not a published workspace package: ${unknown.join(', ')}`);
    process.exit(2);
  }
  const packages = wanted.length > 0 ? all.filter((p) => wanted.includes(p.name)) : all;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'core-check-packages-'));
  let failed = 0;
  try {
    for (const pkg of packages) {
      const { problems, notes = [], summary } = await checkPackage(pkg, tmp);
      for (const note of notes) process.stdout.write(`  note ${pkg.name}: ${note}\n`);
      if (problems.length === 0) {
        process.stdout.write(`ok   ${summary}\n`);
      } else {
        failed += 1;
        process.stdout.write(
          `FAIL ${pkg.name} (${pkg.rel}):\n${problems.map((p) => `     - ${p}`).join('\n')}\n`,
        );
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (failed > 0) {
    console.error(`check-packages: ${failed} of ${packages.length} packages would ship something wrong`);
    process.exit(1);
  }
  process.stdout.write(
    `check-packages: ${packages.length} packages ship only dist, types, README and LICENSE\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main();
}
