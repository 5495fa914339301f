import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The type tests are only worth something if a wrong use that stops being a
// compile error fails `pnpm test`. This runs vitest's typecheck mode — the
// same one `pnpm test` runs — on two copies of src/types.test-d.ts: the real
// one, and one where a line under `// @ts-expect-error` was made correct.
// The first must pass and the second must fail with tsc's "Unused
// '@ts-expect-error' directive".

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const TYPE_TESTS = path.join(PACKAGE_DIR, 'src', 'types.test-d.ts');
// The wrong use kept as an error: `r.nope` is not an alias of the registry.
const WRONG_USE = '// @ts-expect-error not an alias\n      void r.nope;';
const MADE_CORRECT = '// @ts-expect-error not an alias\n      void r.backendPort;';

interface VitestJson {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { failureMessages: string[] }[];
  }[];
}

describe('type tests fail the test run when a wrong use compiles', () => {
  let probe: string;
  let run: { status: number | null; report: VitestJson; output: string };

  beforeAll(() => {
    // Inside the package so that `vitest`, `@core/session` and the source
    // resolve as they do for the real file; .gitignore'd (`.type-probe-*`),
    // so turbo's hash and biome never see it.
    probe = mkdtempSync(path.join(PACKAGE_DIR, '.type-probe-'));
    const source = readFileSync(TYPE_TESTS, 'utf8').replaceAll("from './index.js'", "from '../src/index.js'");
    expect(source).toContain(WRONG_USE);
    writeFileSync(path.join(probe, 'as-written.test-d.ts'), source);
    writeFileSync(path.join(probe, 'made-correct.test-d.ts'), source.replace(WRONG_USE, MADE_CORRECT));
    writeFileSync(
      path.join(probe, 'tsconfig.json'),
      JSON.stringify({ extends: '../tsconfig.json', include: ['./*.test-d.ts'] }),
    );
    const reportFile = path.join(probe, 'report.json');
    const vitest = path.join(
      path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
      'vitest.mjs',
    );
    const result = spawnSync(
      process.execPath,
      [
        vitest,
        'run',
        '--root',
        probe,
        '--typecheck.enabled',
        '--typecheck.only',
        '--typecheck.include=*.test-d.ts',
        '--typecheck.tsconfig=tsconfig.json',
        '--reporter=json',
        `--outputFile=${reportFile}`,
      ],
      { cwd: probe, encoding: 'utf8', timeout: 150_000, env: { ...process.env, FORCE_COLOR: '0' } },
    );
    run = {
      status: result.status,
      report: JSON.parse(readFileSync(reportFile, 'utf8')) as VitestJson,
      output: `${result.stdout}${result.stderr}`,
    };
  }, 180_000);

  afterAll(() => {
    if (probe) rmSync(probe, { recursive: true, force: true });
  });

  it('the file as written passes', () => {
    const file = run.report.testResults.find((r) => r.name.endsWith('as-written.test-d.ts'));
    expect(file?.status, run.output).toBe('passed');
  });

  it('the same file with the wrong use made correct fails, naming the unused directive', () => {
    expect(run.status).not.toBe(0);
    const file = run.report.testResults.find((r) => r.name.endsWith('made-correct.test-d.ts'));
    expect(file?.status, run.output).toBe('failed');
    const messages = JSON.stringify(file);
    expect(messages).toMatch(/Unused '@ts-expect-error' directive/);
  });
});
