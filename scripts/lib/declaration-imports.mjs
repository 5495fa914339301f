// Which packages a consumer's TypeScript loads through our published types:
// from each entry declaration file, every relative import is followed and
// every bare specifier (`zod`, `ioredis`, `node:events`) is collected with the
// chain of files that reached it. A third-party specifier in that set makes
// every consumer type-check that dependency's declarations (and fail with it
// when its next release ships broken types).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ts = createRequire(import.meta.url)('typescript');

/** The specifiers a declaration file imports or references (import, export from, import(), /// reference types). */
function specifiersOf(file) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return [
    ...info.importedFiles.map((f) => f.fileName),
    ...info.typeReferenceDirectives.map((f) => f.fileName),
  ];
}

/** `./x.js` → the declaration file beside it (`x.d.ts`, or `x/index.d.ts`). */
function declarationFor(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier).replace(/\.(?:js|mjs|d\.ts)$/, '');
  for (const candidate of [`${base}.d.ts`, `${base}.d.mts`, path.join(base, 'index.d.ts')]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Whether a specifier is a Node built-in (`node:fs`, or a bare built-in name). */
const isBuiltin = (specifier) => specifier.startsWith('node:');

/**
 * Every bare specifier reachable from `entries` (absolute `.d.ts` paths):
 * a Map from specifier to the chain of files (relative to `root`) that imports it.
 * Relative imports that resolve to no file are reported under `unresolved:<path>`.
 */
export function reachableBareImports(entries, root) {
  const found = new Map();
  const seen = new Set();
  const queue = entries.map((file) => ({ file, chain: [path.relative(root, file)] }));
  while (queue.length > 0) {
    const { file, chain } = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiersOf(file)) {
      if (specifier.startsWith('.')) {
        const next = declarationFor(file, specifier);
        if (next) queue.push({ file: next, chain: [...chain, path.relative(root, next)] });
        else if (!found.has(`unresolved:${specifier}`)) found.set(`unresolved:${specifier}`, chain);
      } else if (!found.has(specifier)) {
        found.set(specifier, chain);
      }
    }
  }
  return found;
}

/** The package name of a bare specifier (`zod/mini` → `zod`, `@core/session/store` → `@core/session`). */
export function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * The third-party packages whose types our declarations make a consumer load:
 * every reachable bare specifier that is neither a Node built-in nor one of
 * `ours` (package names, e.g. the workspace's). Returns `[{ specifier, chain }]`.
 */
export function leakedDependencies(entries, root, ours) {
  const leaks = [];
  for (const [specifier, chain] of reachableBareImports(entries, root)) {
    if (isBuiltin(specifier) || ours.has(packageOf(specifier))) continue;
    leaks.push({ specifier, chain });
  }
  return leaks;
}
