// Start-up cost without a stopwatch: on an empty machine the read-only
// commands must not load zod, pino, ioredis or the session/ports packages.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, NODE_TS, tempDir } from './helpers.js';

const tmp = tempDir('sm-imports-');
afterAll(() => tmp.remove());

async function loadedBy(args: string[]): Promise<string[]> {
  const record = path.join(tmp.dir, `imports-${args.join('-')}.txt`);
  writeFileSync(record, '');
  const child = spawn(
    process.execPath,
    [...NODE_TS, '--import', path.join(FIXTURES, 'record-imports.mjs'), CLI, ...args],
    {
      env: {
        ...process.env,
        RECORD_IMPORTS: record,
        CORE_SESSION_DIR: path.join(tmp.dir, 'none'),
        XDG_CONFIG_HOME: tmp.dir,
        SYSTEM_MANAGER_CONFIG: '',
        CORE_SESSION_REDIS_URL: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise((r) => child.once('exit', r));
  expect(code, err).toBe(0);
  return readFileSync(record, 'utf8').split('\n').filter(Boolean);
}

const HEAVY =
  /\/(zod|pino|ioredis)\/|\/packages\/(session|session-redis|ports|stats|invariants)\/|\/src\/manager\.ts$|^node:https?$/;

describe('read-only commands load nothing heavy on an empty machine', () => {
  for (const args of [['--help'], ['status', '--json'], ['status'], ['ports'], ['ports', '--json']]) {
    it(`${args.join(' ')}`, async () => {
      const urls = await loadedBy(args);
      expect(urls.some((u) => u.endsWith('/src/cli.ts'))).toBe(true); // the recorder works…
      expect(urls).toContain('node:fs'); // …for built-ins too
      expect(urls.filter((u) => HEAVY.test(u))).toEqual([]);
    });
  }

  it('the recorder does see zod (ESM) and pino (CommonJS) when a command needs them', async () => {
    const urls = await loadedBy(['config', 'check']);
    expect(urls.some((u) => /\/zod\//.test(u))).toBe(true);
    const failing = await loadedBy(['sessions', 'cleanup']); // creates a session and logs: pino is loaded
    expect(failing.some((u) => /\/pino\//.test(u))).toBe(true);
  });
});
