// The third-party versions a consumer of our packages gets when it installs
// exactly what pnpm-lock.yaml holds: read from a workspace installed with
// `--frozen-lockfile` (so `pnpm list` reports the lockfile's resolutions),
// turned into npm `overrides` for a consumer's package.json. With them, an
// install from a registry resolves every transitive dependency at the
// lockfile's version, so a release published tomorrow cannot change what a
// gating run installs today.
import { execFileSync, spawnSync } from 'node:child_process';

/**
 * `name@version` → its dependencies (`[name, version]`), from every node of
 * `pnpm list --json` trees. pnpm prints a package's subtree once per call and
 * marks later occurrences `deduped`, so the map is filled from all of them.
 */
function dependencyMap(importers) {
  const map = new Map();
  const visit = (dependencies) => {
    for (const [name, node] of Object.entries(dependencies ?? {})) {
      // A workspace sibling is a link, not a package of its own, but pnpm may
      // print a third-party subtree in full only beneath it.
      if (String(node.version).startsWith('link:')) {
        visit(node.dependencies);
        visit(node.optionalDependencies);
        continue;
      }
      const key = `${name}@${node.version}`;
      if (!map.has(key)) map.set(key, []);
      if (node.dependencies && map.get(key).length === 0) {
        map.set(
          key,
          Object.entries(node.dependencies)
            .filter(([, child]) => !String(child.version).startsWith('link:'))
            .map(([childName, child]) => [childName, child.version]),
        );
      }
      visit(node.dependencies);
    }
  };
  for (const importer of importers) {
    visit(importer.dependencies);
    visit(importer.optionalDependencies);
    visit(importer.devDependencies);
  }
  return map;
}

/**
 * The production dependency trees of every published workspace package, plus
 * the trees of `extra` packages (a consumer's own direct dependencies that
 * the workspace holds as devDependencies, e.g. prom-client), as the lockfile
 * resolves them: every edge `{ name, version, parent }` (parent null for a
 * direct dependency of one of our packages), and the versions of `extra`.
 *
 * @param {string} workspace a directory installed with --frozen-lockfile
 * @param {string[]} extra names installed alongside our packages
 */
function lockfileTrees(workspace, extra) {
  const importers = JSON.parse(
    execFileSync('pnpm', ['list', '-r', '--json', '--depth', 'Infinity'], {
      cwd: workspace,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    }),
  );
  const children = dependencyMap(importers);
  const edges = [];
  const seen = new Set();
  const queue = [];
  const add = (name, version, parent) => {
    edges.push({ name, version, parent });
    const key = `${name}@${version}`;
    if (!seen.has(key)) {
      seen.add(key);
      queue.push({ name, version });
    }
  };
  // Published packages only: the private tooling packages never reach a consumer.
  for (const importer of importers.filter((i) => !i.private)) {
    for (const field of ['dependencies', 'optionalDependencies']) {
      for (const [name, node] of Object.entries(importer[field] ?? {})) {
        if (!String(node.version).startsWith('link:')) add(name, node.version, null);
      }
    }
  }
  const direct = {};
  for (const name of extra) {
    const node = importers.map((i) => i.devDependencies?.[name]).find(Boolean);
    if (!node) throw new Error(`lockfile-pins: ${name} is in no workspace package's devDependencies`);
    direct[name] = node.version;
    seen.add(`${name}@${node.version}`);
    queue.push({ name, version: node.version });
  }
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [name, version] of children.get(`${parent.name}@${parent.version}`) ?? []) {
      add(name, version, parent);
    }
  }
  return { edges, direct };
}

/**
 * npm `overrides` that pin every third-party package of our packages' trees
 * to its lockfile version. A name the lockfile resolves to one version is
 * pinned everywhere; a name it resolves to several is pinned under each
 * parent that depends on it (`"parent@version": { name: version }`).
 * `direct` holds the exact versions of the `extra` names, for the consumer's
 * own dependency list (npm refuses an override of a direct dependency).
 *
 * @param {string} workspace a directory installed with --frozen-lockfile
 * @param {{ extra?: string[] }} [options]
 */
export function lockfilePins(workspace, { extra = [] } = {}) {
  const { edges, direct } = lockfileTrees(workspace, extra);
  const versions = new Map(Object.entries(direct).map(([name, version]) => [name, new Set([version])]));
  for (const { name, version } of edges) {
    if (!versions.has(name)) versions.set(name, new Set());
    versions.get(name).add(version);
  }
  const overrides = {};
  for (const [name, set] of versions) {
    if (set.size === 1 && !(name in direct)) overrides[name] = [...set][0];
  }
  for (const { name, version, parent } of edges) {
    if (versions.get(name).size === 1 || name in direct) continue;
    if (!parent) {
      throw new Error(
        `lockfile-pins: our packages depend on ${name} directly at several versions (${[...versions.get(name)].join(', ')})`,
      );
    }
    const key = `${parent.name}@${parent.version}`;
    overrides[key] ??= {};
    if (typeof overrides[key] === 'object') overrides[key][name] = version;
  }
  return {
    overrides,
    direct,
    /** name → the lockfile's versions of it */
    versions: new Map([...versions].map(([name, set]) => [name, [...set].sort()])),
  };
}

/**
 * Every third-party package in a consumer's npm install and its versions
 * (`npm ls --all --json`), skipping `skip(name)` (our own packages).
 */
export function installedThirdParty(consumer, env, skip) {
  // npm ls exits 1 on any problem it sees (an invalid or missing package)
  // but still prints the tree: the caller compares versions itself.
  const ls = spawnSync('npm', ['ls', '--all', '--json'], {
    cwd: consumer,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!ls.stdout) throw new Error(`npm ls in ${consumer} printed nothing: ${ls.stderr}`);
  const tree = JSON.parse(ls.stdout);
  const found = new Map();
  const visit = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (!skip(name) && child.version) {
        if (!found.has(name)) found.set(name, new Set());
        found.get(name).add(child.version);
      }
      visit(child);
    }
  };
  visit(tree);
  return new Map([...found].map(([name, set]) => [name, [...set].sort()]));
}

/**
 * How an install differs from the lockfile: `[{ name, lockfile, installed }]`
 * for every package whose installed versions are not the lockfile's
 * (`lockfile` is empty for a package the lockfile does not hold).
 */
export function differences(lockfile, installed) {
  const out = [];
  for (const [name, versions] of installed) {
    const expected = lockfile.get(name) ?? [];
    if (versions.join() !== expected.join()) out.push({ name, lockfile: expected, installed: versions });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
