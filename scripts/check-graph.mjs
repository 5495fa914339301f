#!/usr/bin/env node
import { readFileSync } from 'node:fs';
// pnpm check:graph: the workspace dependency graph points one way.
//
//   @core/invariants                       (no internal dependencies)
//     ← @core/stats, @core/session, @core/ports (ports may use session)
//       ← @core/session-redis, @core/session-etcd (→ @core/session only)
//         ← @core/system-manager             (the app: may use all of them)
//
// Checked for every dependency field (dev dependencies too: a test-only edge
// the wrong way is still a cycle for turbo and for the reader):
//   - a dependency on a sibling workspace package uses the `workspace:`
//     protocol (otherwise pnpm may install a registry copy next to the local
//     one, and the release would not rewrite the range);
//   - an edge between released packages is in the table below; the private
//     @tooling/* packages may be used by anyone but use no released package;
//   - a workspace package missing from the table fails until it is placed;
//   - a library that uses @core/session takes it as a peer dependency (plus a
//     dev dependency for its own tests), never a direct one: the session is
//     one per process, so the copy must be the application's, not a private
//     copy per library that a lockfile with two versions would duplicate.
// On success it prints the graph; each violating edge is named on failure.
import path from 'node:path';
import { DEPENDENCY_FIELDS, listPackages, ROOT } from './lib/workspace.mjs';

/** Which internal packages each released package may depend on. */
export const ALLOWED = {
  '@core/invariants': [],
  '@core/stats': ['@core/invariants'],
  '@core/session': ['@core/invariants'],
  '@core/ports': ['@core/invariants', '@core/session'],
  '@core/session-redis': ['@core/session'],
  '@core/session-etcd': ['@core/session'],
  '@core/system-manager': [
    '@core/invariants',
    '@core/stats',
    '@core/session',
    '@core/ports',
    '@core/session-redis',
    '@core/session-etcd',
  ],
};

/** Internal packages a library must take as a peer (+ dev) dependency, never a direct one. */
export const PEER_ONLY = {
  '@core/session': ['@core/ports', '@core/session-redis', '@core/session-etcd'],
};

const isTooling = (name) => name.startsWith('@tooling/');

/** Every problem of the graph of `packages` (plus the root manifest), as messages. */
export function checkGraph(packages, rootManifest) {
  const names = new Set(packages.map((p) => p.name));
  const problems = [];
  const edges = new Map();
  const owners = [
    ...packages,
    { name: `${rootManifest.name} (root)`, rel: '.', manifest: rootManifest, root: true },
  ];
  for (const pkg of owners) {
    if (!pkg.root && !isTooling(pkg.name) && !(pkg.name in ALLOWED)) {
      problems.push(`${pkg.name} (${pkg.rel}) is not placed in the layer table of scripts/check-graph.mjs`);
    }
    const out = [];
    for (const field of DEPENDENCY_FIELDS) {
      for (const [dep, range] of Object.entries(pkg.manifest[field] ?? {})) {
        if (!names.has(dep)) continue;
        const edge = `${pkg.name} → ${dep} (${field}: "${range}")`;
        if (!String(range).startsWith('workspace:')) {
          problems.push(`${edge}: a sibling must be depended on with the workspace: protocol`);
        }
        if (pkg.root) continue;
        if (isTooling(dep)) {
          out.push({ dep, field });
          continue;
        }
        if (isTooling(pkg.name)) {
          problems.push(`${edge}: private tooling must not depend on a released package`);
          continue;
        }
        const allowed = ALLOWED[pkg.name];
        if (allowed && !allowed.includes(dep)) {
          problems.push(
            `${edge}: not allowed — ${pkg.name} may depend on ${allowed.length ? allowed.join(', ') : 'no internal package'}`,
          );
        }
        out.push({ dep, field });
      }
    }
    for (const [dep, libraries] of Object.entries(PEER_ONLY)) {
      if (pkg.root || !libraries.includes(pkg.name)) continue;
      const m = pkg.manifest;
      if (m.dependencies?.[dep] !== undefined || m.optionalDependencies?.[dep] !== undefined)
        problems.push(
          `${pkg.name} → ${dep}: must be a peerDependency (one copy per process), not a dependency`,
        );
      else if (m.peerDependencies?.[dep] === undefined)
        problems.push(`${pkg.name} → ${dep}: missing from peerDependencies`);
      if (m.peerDependencies?.[dep] !== undefined && m.devDependencies?.[dep] === undefined)
        problems.push(`${pkg.name} → ${dep}: a peer needs a devDependency too, so the workspace links it`);
    }
    if (!pkg.root) edges.set(pkg.name, out);
  }
  return { problems, edges };
}

/** The graph as text: released packages in layer order, then the tooling. */
export function renderGraph(packages, edges) {
  const released = Object.keys(ALLOWED).filter((name) => edges.has(name));
  const width = Math.max(...packages.map((p) => p.name.length));
  const lines = ['dependency graph (→ depends on; dev = devDependencies only; peer = peerDependencies):'];
  const describe = (name, filter) => {
    const deps = (edges.get(name) ?? []).filter(filter);
    const seen = new Map();
    const peers = new Set(deps.filter((e) => e.field === 'peerDependencies').map((e) => e.dep));
    for (const { dep, field } of deps) {
      const dev = field === 'devDependencies';
      seen.set(dep, seen.has(dep) ? seen.get(dep) && dev : dev);
    }
    return [...seen].map(([dep, dev]) => (peers.has(dep) ? `${dep} (peer)` : dev ? `${dep} (dev)` : dep));
  };
  for (const name of released) {
    const core = describe(name, (e) => !isTooling(e.dep));
    lines.push(`  ${name.padEnd(width)}  → ${core.length ? core.join(', ') : '(none)'}`);
  }
  const tooling = packages.filter((p) => isTooling(p.name)).map((p) => p.name);
  if (tooling.length) lines.push(`  private tooling (dev only, used by any package): ${tooling.join(', ')}`);
  return lines.join('\n');
}

function main() {
  const packages = listPackages();
  const rootManifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { problems, edges } = checkGraph(packages, rootManifest);
  if (problems.length > 0) {
    console.error(`check-graph: ${problems.length} problem(s) in the workspace dependency graph:`);
    for (const problem of problems) console.error(`  - ${problem}`);
    process.exit(1);
  }
  process.stdout.write(`${renderGraph(packages, edges)}\n`);
  process.stdout.write(
    `check-graph: ${packages.length} workspace packages, every internal edge uses workspace: and points one way\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main();
}
