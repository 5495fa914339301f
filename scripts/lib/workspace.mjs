// Workspace helpers shared by the release and hygiene scripts: the packages of
// pnpm-workspace.yaml, which of them are published, and their order.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is scripts/lib/workspace.mjs). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const DEPENDENCY_FIELDS = [
  'dependencies',
  'peerDependencies',
  'optionalDependencies',
  'devDependencies',
];

/** The `packages:` globs of pnpm-workspace.yaml (only `dir/*` patterns are used here). */
function workspaceGlobs(root) {
  const yaml = readFileSync(path.join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [];
  let inPackages = false;
  for (const line of yaml.split('\n')) {
    if (/^packages:\s*$/.test(line)) {
      inPackages = true;
      continue;
    }
    if (inPackages) {
      const item = /^\s+-\s+['"]?([^'"#\s]+)['"]?/.exec(line);
      if (item) globs.push(item[1]);
      else if (/^\S/.test(line)) inPackages = false;
    }
  }
  for (const glob of globs) {
    if (!/^[\w.-]+\/\*$/.test(glob)) {
      throw new Error(
        `pnpm-workspace.yaml: unsupported packages glob ${JSON.stringify(glob)} (expected "dir/*")`,
      );
    }
  }
  return globs;
}

/**
 * Every workspace package: `{ name, version, dir (absolute), rel, private, manifest }`,
 * sorted by path.
 */
export function listPackages(root = ROOT) {
  const packages = [];
  for (const glob of workspaceGlobs(root)) {
    const parent = path.join(root, glob.slice(0, -2));
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      const dir = path.join(parent, entry.name);
      const file = path.join(dir, 'package.json');
      if (!entry.isDirectory() || !existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      packages.push({
        name: manifest.name,
        version: manifest.version,
        dir,
        rel: path.relative(root, dir),
        private: manifest.private === true,
        manifest,
      });
    }
  }
  return packages.sort((a, b) => a.rel.localeCompare(b.rel));
}

/** The packages that are released: every workspace package not marked private. */
export function publishedPackages(root = ROOT) {
  return topologicalOrder(listPackages(root).filter((p) => !p.private));
}

/**
 * Dependencies before dependents (only edges between the given packages count),
 * so a consumer never sees a dependent whose internal dependency is not out yet.
 */
export function topologicalOrder(packages) {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const done = new Set();
  const visiting = new Set();
  const order = [];
  const visit = (p) => {
    if (done.has(p.name)) return;
    if (visiting.has(p.name)) throw new Error(`dependency cycle through ${p.name}`);
    visiting.add(p.name);
    for (const field of DEPENDENCY_FIELDS) {
      for (const dep of Object.keys(p.manifest[field] ?? {})) {
        const target = byName.get(dep);
        if (target && target !== p) visit(target);
      }
    }
    visiting.delete(p.name);
    done.add(p.name);
    order.push(p);
  };
  for (const p of packages) visit(p);
  return order;
}

/**
 * The registry npm uses when nothing is configured: the public one. Read from
 * npm itself (user and global config pointed at an empty file, no registry
 * env), so no host name is written into this repository.
 */
export function publicRegistry() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'core-npm-defaults-'));
  const user = path.join(dir, 'user.npmrc');
  const global = path.join(dir, 'global.npmrc');
  writeFileSync(user, '');
  writeFileSync(global, '');
  try {
    const env = {
      PATH: process.env.PATH,
      HOME: dir,
      NPM_CONFIG_USERCONFIG: user,
      NPM_CONFIG_GLOBALCONFIG: global,
    };
    return execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', env, cwd: dir }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `http://Host:80/x/` → `http://host/x` for comparing registry URLs. */
export function normalizeRegistry(url) {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}
