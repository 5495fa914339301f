// The built read-only commands (dist/commands/status.js and ports.js are
// bundles: scripts/bundle-read-only.mjs) against a real manager: plain node,
// no tsx, the way an operator runs the installed bin. They must say what the
// source says, and load neither full zod nor any file of @core/session (it is
// inlined, with the zod/mini parts its schemas use).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_DIR, FIXTURES, tagEnv } from './helpers.js';
import { cleanups, runToEnd, scratch, setup } from './operator.js';

const BIN = path.join(APP_DIR, 'dist', 'cli.js');

async function runBuilt(args: string[], env: Record<string, string>, record: string) {
  writeFileSync(record, '');
  const child = spawn(
    process.execPath,
    ['--import', path.join(FIXTURES, 'record-imports.mjs'), BIN, ...args],
    {
      env: { ...process.env, ...env, ...tagEnv(), RECORD_IMPORTS: record },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr, loaded: readFileSync(record, 'utf8').split('\n').filter(Boolean) };
}

/** What both runs must agree on (uptime, CPU and memory move between two runs). */
function essentials(doc: {
  sessions: { sessionId: string; pid: number; liveness: string; services: object[] }[];
}) {
  return doc.sessions.map((s) => ({
    sessionId: s.sessionId,
    pid: s.pid,
    liveness: s.liveness,
    services: (s.services as Record<string, unknown>[]).map((r) => ({
      service: r['service'],
      state: r['state'],
      health: r['health'],
      pid: r['pid'],
      port: r['port'],
      source: r['source'],
    })),
  }));
}

describe('the built read-only commands (bundled)', { timeout: 60_000 }, () => {
  it('dist holds the bundles, their chunks and the licence of the zod code inlined in them', () => {
    expect(existsSync(BIN), 'dist/cli.js: `pnpm test` builds the app first').toBe(true);
    const files = readdirSync(path.join(APP_DIR, 'dist', 'commands'));
    expect(files.filter((f) => /^ro-chunk-[A-Z0-9]+\.js$/.test(f)).length).toBeGreaterThan(0);
    expect(readFileSync(path.join(APP_DIR, 'dist', 'commands', 'status.js'), 'utf8')).toContain(
      'Bundled by scripts/bundle-read-only.mjs',
    );
    // zod's licence travels in every bundled file (code of it is inlined).
    for (const file of files.filter((f) => /^(ro-chunk-[A-Z0-9]+|status|ports|top)\.js$/.test(f))) {
      const head = readFileSync(path.join(APP_DIR, 'dist', 'commands', file), 'utf8').slice(0, 2000);
      expect(head, file).toContain('Contains code of zod');
      expect(head, file).toContain('Permission is hereby granted');
    }
  });

  it('status --json and ports --json of a live manager: the same as from source, without loading full zod or @core/session files', async () => {
    const t = setup(); // with a config file in force: it is only peeked at for a Redis URL
    const { ports } = await t.start();
    const env = { ...t.env, ...ports };
    const record = path.join(scratch(), 'imports.txt');

    const built = await runBuilt(['status', '--json'], env, record);
    expect(built.code, built.stderr).toBe(0);
    const fromSource = await runToEnd(['status', '--json'], env);
    expect(fromSource.code, fromSource.stderr).toBe(0);
    const doc = JSON.parse(built.stdout);
    expect(doc.sessions).toHaveLength(1);
    expect(doc.sessions[0].services[0]).toMatchObject({ service: 'cache-service', state: 'healthy' });
    expect(essentials(doc)).toEqual(essentials(JSON.parse(fromSource.stdout)));

    expect(built.loaded.some((u) => /\/dist\/commands\/ro-chunk-[A-Z0-9]+\.js$/.test(u))).toBe(true);
    const heavy = built.loaded.filter((u) =>
      /\/zod\/|\/packages\/session\/|\/@core\/session\/|\/(pino|ioredis)\/|\/dist\/(config|manager)\.js$/.test(
        u,
      ),
    );
    expect(heavy).toEqual([]);

    const builtPorts = await runBuilt(['ports', '--json'], env, record);
    expect(builtPorts.code, builtPorts.stderr).toBe(0);
    const sourcePorts = await runToEnd(['ports', '--json'], env);
    expect(JSON.parse(builtPorts.stdout)).toEqual(JSON.parse(sourcePorts.stdout));
    expect(JSON.parse(builtPorts.stdout).managers[0].ports['main_api']).toBe(
      Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']),
    );
  });

  it('a broken config file is still reported by the built status (exit 78), as start and config check report it', async () => {
    const dir = scratch();
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"session": {"redisUrl": 6379}}');
    const built = await runBuilt(
      ['status', '--config', bad],
      { CORE_SESSION_DIR: path.join(dir, 's') },
      path.join(dir, 'i.txt'),
    );
    expect(built.code).toBe(78);
    expect(built.stderr).toContain('session.redisUrl');
  });

  it('the built top loads no full zod and no @core/session file; without a terminal it exits 2 (its error class is the dispatcher’s)', async () => {
    const dir = scratch();
    const built = await runBuilt(['top'], { CORE_SESSION_DIR: path.join(dir, 's') }, path.join(dir, 'i.txt'));
    expect(built.code, built.stderr).toBe(2);
    expect(built.stderr).toContain('top needs a terminal');
    expect(built.loaded.some((u) => /\/dist\/commands\/top\.js$/.test(u))).toBe(true);
    expect(built.loaded.filter((u) => /\/zod\/|\/packages\/session\/|\/@core\/session\//.test(u))).toEqual(
      [],
    );
  });
});
