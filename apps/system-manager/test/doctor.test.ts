// doctor against real broken states: bad dir modes, a planted symlink, a busy port, a missing command, a stopped lock holder, Redis.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { portEnv } from './helpers.js';
import { cleanups, runToEnd, scratch, setup } from './operator.js';
import { REDIS_SERVER_BIN, redisCommand, startRedis } from './redis.js';

describe('doctor (real broken states)', () => {
  it('exits 0 when all is well', async () => {
    const dir = scratch();
    const { code, stdout } = await runToEnd(['doctor'], {
      CORE_SESSION_DIR: path.join(dir, 's'),
      XDG_CONFIG_HOME: dir,
      ...(await portEnv()),
    });
    expect(code, stdout).toBe(0);
    expect(stdout).toContain('all checks passed');
  });

  it('names the log writer: s6-log on PATH, or a warning with what to install', async () => {
    const dir = scratch();
    const env = { CORE_SESSION_DIR: path.join(dir, 's'), XDG_CONFIG_HOME: dir, ...(await portEnv()) };
    const writerCheck = (stdout: string) =>
      JSON.parse(stdout).checks.find((c: { check: string }) => c.check === 'log writer');
    const withWriter = await runToEnd(['doctor', '--json'], env);
    expect(writerCheck(withWriter.stdout)).toMatchObject({
      status: 'ok',
      message: expect.stringMatching(/\/s6-log writes each service's stdout and stderr/),
    });
    // An empty PATH: node runs by its absolute path, s6-log is not found.
    mkdirSync(path.join(dir, 'empty-bin'));
    const without = await runToEnd(['doctor', '--json'], { ...env, PATH: path.join(dir, 'empty-bin') });
    expect(writerCheck(without.stdout)).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/s6-log is not on PATH/),
      fix: expect.stringContaining('apt-get install s6'),
    });
  });

  it('a world-writable session directory fails, with the chmod to run', async () => {
    const dir = scratch();
    const sessions = path.join(dir, 's');
    mkdirSync(sessions);
    chmodSync(sessions, 0o777);
    const { code, stdout } = await runToEnd(['doctor'], {
      CORE_SESSION_DIR: sessions,
      XDG_CONFIG_HOME: dir,
      ...(await portEnv()),
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL {2}session directory: .* mode 0777/);
    expect(stdout).toContain(`chmod 0700 ${sessions}`);
  });

  it('a planted symlink as the session directory fails and is not followed', async () => {
    const dir = scratch();
    const sessions = path.join(dir, 's');
    mkdirSync(path.join(dir, 'elsewhere'));
    symlinkSync(path.join(dir, 'elsewhere'), sessions);
    const { code, stdout } = await runToEnd(['doctor', '--json'], {
      CORE_SESSION_DIR: sessions,
      XDG_CONFIG_HOME: dir,
      ...(await portEnv()),
    });
    expect(code).toBe(1);
    const check = JSON.parse(stdout).checks.find((c: { check: string }) => c.check === 'session directory');
    expect(check).toMatchObject({ status: 'fail', message: expect.stringMatching(/symbolic link/) });
  });

  it('a configured port held by another process is named with its pid', async () => {
    const dir = scratch();
    const env: Record<string, string> = {
      CORE_SESSION_DIR: path.join(dir, 's'),
      XDG_CONFIG_HOME: dir,
      ...(await portEnv()),
    };
    const holder = net.createServer();
    await new Promise<void>((resolve) =>
      holder.listen({ host: '127.0.0.1', port: Number(env['SYSTEM_MANAGER_PORT_MAIN_API']) }, resolve),
    );
    cleanups.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const { code, stdout } = await runToEnd(['doctor'], env);
    expect(code, stdout).toBe(0); // a busy port is a warning: the start falls back
    expect(stdout).toMatch(
      new RegExp(
        `WARN  port main_api: ${env['SYSTEM_MANAGER_PORT_MAIN_API']} is held by pid ${process.pid} `,
      ),
    );
    expect(stdout).toContain('SYSTEM_MANAGER_PORT_MAIN_API=<port>');
    // Only the ports the built-in config names are checked.
    expect(stdout).not.toMatch(/port (frontend|websocket_router|llama_cpp|event_ui):/);
  });

  it('a command missing on PATH fails, naming it', async () => {
    const dir = scratch();
    const config = path.join(dir, 'c.json');
    writeFileSync(
      config,
      JSON.stringify({ cleanup: { vm: { command: ['gcloud-not-installed-here', 'delete', '{id}'] } } }),
    );
    const { code, stdout } = await runToEnd(['doctor', '--config', config], {
      CORE_SESSION_DIR: path.join(dir, 's'),
      ...(await portEnv()),
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL {2}command of cleanup vm: gcloud-not-installed-here is not found on PATH/);
  });

  it('a stopped lock holder is reported (a SIGSTOPped manager that holds the registry lock)', async () => {
    const t = setup();
    const { r } = await t.start();
    // Plant the lock as the paused manager would hold it.
    writeFileSync(
      path.join(t.sessionDir, 'registry.json.lock'),
      JSON.stringify({ token: 't', pid: r.child.pid, acquiredAt: Date.now() }),
    );
    r.child.kill('SIGSTOP');
    try {
      const { code, stdout } = await runToEnd(['doctor'], t.env);
      expect(code).toBe(1);
      expect(stdout).toMatch(
        new RegExp(`FAIL  registry lock: held for .* by pid ${r.child.pid}, which is stopped`),
      );
      expect(stdout).toContain(`kill -CONT ${r.child.pid}`);
    } finally {
      r.child.kill('SIGCONT');
    }
  });
});

describe('doctor and the Redis store (a real redis-server)', () => {
  it.skipIf(REDIS_SERVER_BIN === null)(
    'reachable with noeviction is ok; allkeys-lru fails naming the fix; a dead server fails',
    async () => {
      const redis = await startRedis();
      cleanups.push(() => redis.stop());
      const dir = scratch();
      const env = {
        CORE_SESSION_DIR: path.join(dir, 's'),
        XDG_CONFIG_HOME: dir,
        CORE_SESSION_REDIS_URL: redis.url,
        ...(await portEnv()),
      };
      const store = async () => {
        const { stdout } = await runToEnd(['doctor', '--json'], env);
        return JSON.parse(stdout).checks.find((c: { check: string }) => c.check === 'session store');
      };
      await redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      expect(await store()).toMatchObject({
        status: 'ok',
        message: expect.stringMatching(/reachable, maxmemory-policy noeviction/),
      });
      await redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      expect(await store()).toMatchObject({
        status: 'fail',
        fix: expect.stringMatching(/CONFIG SET maxmemory-policy noeviction/),
      });
      await redis.stop();
      expect(await store()).toMatchObject({
        status: 'fail',
        message: expect.stringMatching(/not reachable/),
      });
    },
  );
});
