// Bundles the read-only commands (`status`, `ports`) and `top` over tsc's
// output, so they start fast with a manager running (goal: ≤ 1.5× `node -e ""`).
//
// Why: reading a live manager's session record loads @core/session and zod.
// As separate ES modules that is ~100 ms over Node's own start (every file is
// resolved, compiled and evaluated); bundled and tree-shaken — @core/session's
// schemas are written with `zod/mini` for this — it is a few ms.
//
// What: dist/commands/status.js, ports.js and top.js are replaced by
// bundles with the same exports (their .d.ts files stay tsc's); status and
// ports share `ro-chunk-<hash>.js` chunks, top is one file of its own. Inlined: our own read-only modules,
// @core/session and the zod/mini parts its schemas use. Everything a rare path
// needs (the config schema in full zod, the Redis store, the manager for
// `ports --resolve`, pino) stays external and loads from tsc's output or
// node_modules exactly as before. The build fails if full zod got inlined.
// zod's licence is written at the top of every bundled file.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const out = path.join(root, 'dist', 'commands');

/** Own modules reached only on rare paths of the read-only commands: left to tsc's output. */
const OWN_EXTERNAL = new Set(['config.ts', 'session-store.ts', 'manager.ts', 'logger.ts', 'commands.ts']);
// `top` throws our errors: their classes must be the ones commands.ts checks with instanceof (exit codes).
const TOP_EXTERNAL = new Set([...OWN_EXTERNAL, 'errors.ts']);
/** Packages inlined into the bundle; every other package is loaded from node_modules. */
const INLINED = (specifier) =>
  specifier === '@core/session' || /^zod\/(mini|v4\/core|v4\/locales\/en\.js)$/.test(specifier);

// Chunks of an earlier build, and tsc's source maps of the two files replaced here (they would mislead).
for (const name of readdirSync(out))
  if (/^ro-chunk-[A-Z0-9]+\.js$/.test(name) || /^(status|ports|top)\.js\.map$/.test(name))
    rmSync(path.join(out, name));

// zod is MIT-licensed: its notice travels in every file of the bundle (code of it is inlined).
const require = createRequire(import.meta.url);
const zodLicense = readFileSync(
  path.join(path.dirname(require.resolve('zod/package.json')), 'LICENSE'),
  'utf8',
);
const banner = [
  '// Bundled by scripts/bundle-read-only.mjs of @core/system-manager (see there why).',
  '/*! Contains code of zod (https://zod.dev), under this licence:',
  ...zodLicense
    .trim()
    .replaceAll('*/', '* /')
    .split('\n')
    .map((line) => ` * ${line}`.trimEnd()),
  ' */',
].join('\n');

const options = (external) => ({
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Our workspace packages export their TypeScript sources under this condition.
  conditions: ['@core/source'],
  allowOverwrite: true,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: banner },
  plugins: [
    {
      name: 'read-only-externals',
      setup(b) {
        b.onResolve({ filter: /^\.\.?\// }, (args) => {
          const target = path.relative(src, path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')));
          // From dist/commands/ (where the bundle and its chunks live) to tsc's file.
          if (external.has(target)) return { path: `../${target.replace(/\.ts$/, '.js')}`, external: true };
          return undefined;
        });
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.path.startsWith('node:') || !INLINED(args.path)
            ? { path: args.path, external: true }
            : undefined,
        );
      },
    },
  ],
});
// `status` and `ports` share their chunks; `top` is built on its own (one file), so that adding it
// changes nothing of what the other two load.
const readOnly = await build({
  ...options(OWN_EXTERNAL),
  entryPoints: [path.join(src, 'commands', 'status.ts'), path.join(src, 'commands', 'ports.ts')],
  splitting: true,
  chunkNames: 'ro-chunk-[hash]',
});
const top = await build({ ...options(TOP_EXTERNAL), entryPoints: [path.join(src, 'commands', 'top.ts')] });
const result = {
  metafile: { outputs: { ...readOnly.metafile.outputs, ...top.metafile.outputs } },
};

// BUNDLE_META=<file> writes the metafile, to see what went into which chunk.
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
const inputs = Object.values(result.metafile.outputs).flatMap((o) =>
  Object.entries(o.inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([name]) => name),
);
const heavy = inputs.filter(
  (i) => /zod\/v4\/(classic|locales\/(?!en\.js))/.test(i) || /^src\/(config|manager)\.ts$/.test(i),
);
if (heavy.length > 0) {
  console.error(
    `bundle-read-only: the read-only bundle must not hold these (they are what it avoids):\n  ${heavy.join('\n  ')}`,
  );
  process.exit(1);
}

const bytes = Object.entries(result.metafile.outputs)
  .map(([file, o]) => `${path.basename(file)} ${(o.bytes / 1024).toFixed(0)} KiB`)
  .join(', ');
console.log(`bundle-read-only: ${bytes}`);
