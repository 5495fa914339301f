// Any number of loaded copies of @core/session share one process
// session; an incompatible major version is a clear error, not a second session.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freshDir, tempDir } from '../test/helpers.js';
import { compatibleVersions, sessionPackageVersion } from './singleton.js';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** A copy of this package (src + package.json, node_modules linked) at another path, with `version`. */
function copyOfPackage(version: string): string {
  const root = join(tempDir('session-copy-'), 'session');
  cpSync(join(packageRoot, 'src'), join(root, 'src'), {
    recursive: true,
    filter: (p) => !p.endsWith('.test.ts'),
  });
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ ...pkg, version }));
  symlinkSync(join(packageRoot, 'node_modules'), join(root, 'node_modules'));
  return pathToFileURL(join(root, 'src', 'index.ts')).href;
}

function runWithCopies(
  copies: string[],
  dir: string,
): { stdout: string; stderr: string; status: number | null } {
  const script = `
    const urls = ${JSON.stringify(copies)};
    const copies = [];
    for (const url of urls) copies.push(await import(url));
    const out = [];
    for (const copy of copies) {
      try {
        out.push({ available: copy.isSessionManagerAvailable(), sessionId: copy.getSessionManager({ dir: ${JSON.stringify(dir)} }).sessionId, version: copy.sessionPackageVersion() });
      } catch (error) {
        out.push({ code: error.code, message: error.message, isSessionError: error instanceof copy.SessionError });
      }
    }
    console.log(JSON.stringify(out));
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: packageRoot,
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe('the process session on a globalThis slot', () => {
  it('two copies of the package loaded in one process share one sessionId', { timeout: 60_000 }, () => {
    const version = sessionPackageVersion();
    const patch = version.replace(/\d+$/, (n) => String(Number(n) + 1));
    const result = runWithCopies([copyOfPackage(version), copyOfPackage(patch)], freshDir());
    expect(result.status, result.stderr).toBe(0);
    const [first, second] = JSON.parse(result.stdout) as {
      sessionId: string;
      available: boolean;
      version: string;
    }[];
    expect(first?.available).toBe(false);
    expect(second?.available).toBe(true);
    expect(second?.version).toBe(patch);
    expect(second?.sessionId).toBe(first?.sessionId);
    expect(first?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a copy of an incompatible major refuses with E_SESSION_VERSION_CONFLICT instead of a second session', {
    timeout: 60_000,
  }, () => {
    const result = runWithCopies([copyOfPackage('0.2.0'), copyOfPackage('1.0.0')], freshDir());
    expect(result.status, result.stderr).toBe(0);
    const [first, second] = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(first?.['sessionId']).toBeDefined();
    expect(second).toMatchObject({ code: 'E_SESSION_VERSION_CONFLICT', isSessionError: true });
    expect(String(second?.['message'])).toMatch(/0\.2\.0.*1\.0\.0|1\.0\.0.*0\.2\.0/);
  });

  it('compatibility follows semver carets: same major, and for 0.x the same minor', () => {
    expect(compatibleVersions('1.2.3', '1.9.0')).toBe(true);
    expect(compatibleVersions('1.2.3', '2.0.0')).toBe(false);
    expect(compatibleVersions('0.2.0', '0.2.5')).toBe(true);
    expect(compatibleVersions('0.2.0', '0.3.0')).toBe(false);
  });
});
