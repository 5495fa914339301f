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
//   - publint --strict on that tarball (warnings fail too).
// The packages are ESM only (no `require` condition, no CJS build), so there
// is no dual-package hazard to check and `attw --pack` is not needed.
// Needs a build (`pnpm build`) first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { DEPENDENCY_FIELDS, publishedPackages } from './lib/workspace.mjs';

const ALWAYS = new Set(['package.json', 'README.md', 'LICENSE']);
const SHIPPED = /^dist\/(?:[\w.-]+\/)*[\w.-]+\.(?:js|d\.ts)$/;
// Published JSON Schemas of a package's file formats (system-manager's config.schema.json, for editors' "$schema").
const SCHEMA_FILE = /^[\w.-]+\.schema\.json$/;
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
  if (manifest.license !== 'MIT')
    problems.push(`license is ${JSON.stringify(manifest.license)}, expected "MIT"`);

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
  const summary = `${manifest.name}@${manifest.version}: ${files.length} files (dist ${dist}, README.md, LICENSE, package.json), publint clean`;
  return { problems, notes, summary };
}

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
