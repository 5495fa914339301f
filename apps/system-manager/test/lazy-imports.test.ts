// Start-up cost without a stopwatch: on an empty machine the read-only
// commands must not load zod, pino, ioredis, etcd3 or the session/ports
// packages; and a run that uses no fleet registry loads neither store's client.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, NODE_TS, tempDir } from './helpers.js';

const tmp = tempDir('sm-imports-');
afterAll(() => tmp.remove());

async function loadedBy(
  args: string[],
  extraEnv: Record<string, string> = {},
  expectedCode = 0,
): Promise<string[]> {
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
        CORE_SESSION_ETCD_ENDPOINTS: '',
        ...extraEnv,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise((r) => child.once('exit', r));
  expect(code, err).toBe(expectedCode);
  return readFileSync(record, 'utf8').split('\n').filter(Boolean);
}

const HEAVY =
  /\/(zod|pino|ioredis|etcd3)\/|\/packages\/(session|session-redis|session-etcd|ports|stats|invariants)\/|\/src\/manager\.ts$|^node:https?$/;
/** The fleet stores' clients and packages: loaded only by a run that uses one. */
const FLEET_CLIENTS = /\/(ioredis|etcd3)\/|\/packages\/(session-redis|session-etcd)\//;

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

  it('a run on the file registry loads neither fleet store (ioredis, etcd3); one named by the env loads its own only', async () => {
    for (const args of [
      ['config', 'check'],
      ['sessions', 'cleanup'],
    ]) {
      const urls = await loadedBy(args);
      expect(urls.some((u) => /\/packages\/session\//.test(u))).toBe(args[0] === 'sessions'); // the recorder works
      expect(urls.filter((u) => FLEET_CLIENTS.test(u))).toEqual([]);
    }
    // A bad endpoint stops the run (exit 78) right after the etcd package is loaded to read it: etcd3 came, ioredis did not.
    const etcd = await loadedBy(
      ['sessions', 'cleanup'],
      { CORE_SESSION_ETCD_ENDPOINTS: 'not an endpoint' },
      78,
    );
    expect(etcd.some((u) => /\/etcd3\//.test(u))).toBe(true);
    expect(etcd.filter((u) => /\/ioredis\/|\/packages\/session-redis\//.test(u))).toEqual([]);
  });
});
