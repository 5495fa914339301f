// The operator commands against real managers, real orphans and real broken
// states: status (like pm2 ls), ports, config check, doctor, exit code 78.
import { chmodSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, isAlive, portEnv, type Running, run, tempDir, waitUntil } from './helpers.js';
import { REDIS_SERVER_BIN, redisCommand, startRedis } from './redis.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs a CLI command to completion; killed in afterEach if a failing test leaves it running. */
async function runToEnd(args: string[], env: Record<string, string>) {
  const r = run(args, env);
  cleanups.push(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  });
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

function scratch() {
  const tmp = tempDir('sm-operator-');
  cleanups.push(tmp.remove);
  return tmp.dir;
}

function setup() {
  const dir = scratch();
  const sessionDir = path.join(dir, 'sessions');
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      services: [
        {
          name: 'cache-service',
          command: '{node}',
          args: ['{builtin:example/cache-service}'],
          port: 'main_api',
        },
      ],
      shutdown: { graceMs: 2000 },
    }),
  );
  const env = { CORE_SESSION_DIR: sessionDir, SYSTEM_MANAGER_CONFIG: configFile };
  const started: Running[] = [];
  cleanups.push(async () => {
    for (const r of started) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGCONT');
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });
  return {
    dir,
    env,
    sessionDir,
    configFile,
    start: async (extraEnv: Record<string, string> = {}) => {
      const ports = await portEnv();
      const r = run(['start'], { ...env, ...ports, ...extraEnv });
      started.push(r);
      await r.waitForLog((e) => e['msg'] === 'all services healthy');
      return { r, ports, control: Number(ports['SYSTEM_MANAGER_PORT_CONTROL']) };
    },
  };
}

interface Doc {
  sessions: {
    sessionId: string;
    pid: number;
    liveness: string;
    answered: boolean;
    services: Record<string, unknown>[];
    orphans: { service: string; pid: number; port: number; running: boolean }[];
  }[];
  hint: string | null;
}

async function statusJson(env: Record<string, string>, args: string[] = []): Promise<Doc> {
  const { code, stdout, stderr } = await runToEnd(['status', '--json', ...args], env);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Doc;
}

describe('status (like pm2 ls)', () => {
  it('one row per service with state, health, pid, port, uptime, restarts, CPU and memory from the live manager', async () => {
    const t = setup();
    const { r, ports, control } = await t.start();
    const served = JSON.parse((await httpGet(control, '/status')).body);
    const servicePid = served.services[0].pid as number;
    const doc = await statusJson(t.env);
    expect(doc.sessions).toHaveLength(1);
    const [session] = doc.sessions;
    expect(session).toMatchObject({ pid: r.child.pid, liveness: 'live', answered: true });
    expect(session?.services).toEqual([
      expect.objectContaining({
        service: 'cache-service',
        state: 'healthy',
        health: 'ok',
        pid: servicePid,
        port: Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']),
        source: 'control',
      }),
    ]);
    const row = session?.services[0] as { uptimeSeconds: number; cpuPercent: number; memoryBytes: number };
    expect(row.uptimeSeconds).toBeGreaterThan(0);
    expect(row.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(row.memoryBytes).toBeGreaterThan(1024 * 1024); // a Node process has more than 1 MB resident
    const text = await runToEnd(['status'], t.env);
    expect(text.stdout).toMatch(
      /SESSION\s+SERVICE\s+STATE\s+HEALTH\s+PID\s+PORT\s+UPTIME\s+RESTARTS\s+CPU\s+MEM/,
    );
    expect(text.stdout).toMatch(
      new RegExp(
        `cache-service\\s+healthy\\s+ok\\s+${servicePid}\\s+${ports['SYSTEM_MANAGER_PORT_MAIN_API']}`,
      ),
    );
  });

  it('falls back to the registry when the manager does not answer (paused with SIGSTOP)', async () => {
    const t = setup();
    const { r } = await t.start();
    r.child.kill('SIGSTOP');
    try {
      const doc = await statusJson(t.env);
      expect(doc.sessions[0]).toMatchObject({ liveness: 'live', answered: false });
      expect(doc.sessions[0]?.services[0]).toMatchObject({
        service: 'cache-service',
        state: 'running',
        source: 'registry',
      });
      const text = await runToEnd(['status'], t.env);
      expect(text.stdout).toMatch(/not answering: rows marked \* are from the registry/);
    } finally {
      r.child.kill('SIGCONT');
    }
  });

  it("lists a dead session's orphans with pids and ports and the hint to run sessions cleanup", async () => {
    const t = setup();
    const { r, ports, control } = await t.start();
    const orphanPid = JSON.parse((await httpGet(control, '/status')).body).services[0].pid as number;
    r.child.kill('SIGKILL');
    await r.exited;
    cleanups.push(() => {
      if (isAlive(orphanPid)) process.kill(orphanPid, 'SIGKILL');
    });
    const doc = await statusJson(t.env);
    expect(doc.sessions[0]).toMatchObject({ liveness: 'dead', services: [] });
    expect(doc.sessions[0]?.orphans).toEqual([
      {
        service: 'cache-service',
        pid: orphanPid,
        port: Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']),
        running: true,
      },
    ]);
    expect(doc.hint).toMatch(/system-manager sessions cleanup/);
    const text = await runToEnd(['status'], t.env);
    expect(text.stdout).toContain(
      `orphan cache-service pid ${orphanPid} port ${ports['SYSTEM_MANAGER_PORT_MAIN_API']} (still running)`,
    );
    expect(text.stdout).toContain("run 'system-manager sessions cleanup'");
    // status only looks: the orphan is still there for cleanup to kill.
    expect(isAlive(orphanPid)).toBe(true);
    expect((await runToEnd(['sessions', 'cleanup'], t.env)).code).toBe(0);
    await waitUntil(() => !isAlive(orphanPid), 5000, 'orphan to be reaped');
    expect((await statusJson(t.env)).sessions).toEqual([]);
  });

  it('--all-users reads every user directory under the temp dir (root), including another uid', async () => {
    const t = setup();
    const { r } = await t.start();
    // TMPDIR moves os.tmpdir(): a fake "other user" directory holding a copy of the live registry.
    const tmp = path.join(t.dir, 'tmp');
    const other = path.join(tmp, 'core-session-4242');
    mkdirSync(other, { recursive: true, mode: 0o700 });
    const { readFileSync } = await import('node:fs');
    writeFileSync(path.join(other, 'registry.json'), readFileSync(path.join(t.sessionDir, 'registry.json')));
    const env = { TMPDIR: tmp, CORE_SESSION_DIR: path.join(tmp, 'core-session-0') };
    expect((await statusJson(env)).sessions).toEqual([]);
    const all = await statusJson(env, ['--all-users']);
    expect(all.sessions.map((s) => s.pid)).toEqual([r.child.pid]);
  });
});

describe('read-only commands create no session files', () => {
  it('status, ports, ports --resolve, config check, doctor, unit and --help leave a fresh CORE_SESSION_DIR absent', async () => {
    const dir = scratch();
    const sessionDir = path.join(dir, 'fresh-sessions');
    const env = {
      CORE_SESSION_DIR: sessionDir,
      XDG_CONFIG_HOME: path.join(dir, 'xdg'),
      ...(await portEnv()),
    };
    for (const args of [
      ['status'],
      ['status', '--json'],
      ['ports'],
      ['ports', '--resolve', '--json'],
      ['config', 'check'],
      ['doctor'],
      ['unit'],
      ['--help'],
    ]) {
      const { code, stderr } = await runToEnd(args, env);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(0);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('status and ports add nothing to a session directory a manager uses', async () => {
    const t = setup();
    await t.start();
    const before = readdirSync(t.sessionDir).sort();
    await runToEnd(['status'], t.env);
    await runToEnd(['ports'], t.env);
    await runToEnd(['doctor'], t.env);
    expect(readdirSync(t.sessionDir).sort()).toEqual(before);
  });
});

describe('ports', () => {
  it('shows the ports the running manager uses, and --resolve the dry run', async () => {
    const t = setup();
    const { ports } = await t.start();
    const live = await runToEnd(['ports', '--json'], t.env);
    const doc = JSON.parse(live.stdout);
    expect(doc.source).toBe('live');
    expect(doc.managers[0].ports.main_api).toBe(Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']));
    expect(doc.managers[0].aliases.backendPort.port).toBe(Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']));
    // The dry run sees main_api taken (by the manager's service) and picks where a new start would go.
    const dry = JSON.parse((await runToEnd(['ports', '--resolve', '--json'], { ...t.env, ...ports })).stdout);
    expect(dry.source).toBe('resolved');
    expect(dry.ports.main_api).not.toBe(Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']));
  });
});

describe('config check and exit code 78', () => {
  it('prints the resolved config and exits 0; names every bad field and exits 78', async () => {
    const dir = scratch();
    const good = path.join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        $schema: '../config.schema.json',
        services: [{ name: 'a', command: './run.sh', port: 'main_api' }],
      }),
    );
    const ok = await runToEnd(['config', 'check', '--config', good], {});
    expect(ok.code, ok.stderr).toBe(0);
    const resolved = JSON.parse(ok.stdout);
    expect(resolved.services[0]).toMatchObject({
      command: path.join(dir, 'run.sh'),
      cwd: dir,
      startTimeoutMs: 10000,
    });
    expect(ok.stderr).toContain(`${good} (--config) is valid`);

    const bad = path.join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ services: [{ name: 'a', command: '', port: 'Main' }], shutdown: { graceMs: 'x' } }),
    );
    const failed = await runToEnd(['config', 'check', '--config', bad], {});
    expect(failed.code).toBe(78);
    expect(failed.stderr).toMatch(/services\.0\.command/);
    expect(failed.stderr).toMatch(/services\.0\.port/);
    expect(failed.stderr).toMatch(/shutdown\.graceMs/);
    const json = await runToEnd(['config', 'check', '--json'], { SYSTEM_MANAGER_CONFIG: bad });
    expect(json.code).toBe(78);
    expect(JSON.parse(json.stdout).errors.length).toBeGreaterThanOrEqual(3);
  });

  it('start with an invalid or missing config exits 78, so RestartPreventExitStatus=78 stops the restarts', async () => {
    const dir = scratch();
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"services": 3}');
    const env = { CORE_SESSION_DIR: path.join(dir, 's'), ...(await portEnv()) };
    expect((await runToEnd(['start', '--config', bad], env)).code).toBe(78);
    expect((await runToEnd(['start', '--config', path.join(dir, 'missing.json')], env)).code).toBe(78);
    writeFileSync(bad, '{ not json');
    expect((await runToEnd(['start'], { ...env, SYSTEM_MANAGER_CONFIG: bad })).code).toBe(78);
  });
});

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
      holder.listen({ host: '127.0.0.1', port: Number(env['SYSTEM_MANAGER_PORT_FRONTEND']) }, resolve),
    );
    cleanups.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const { code, stdout } = await runToEnd(['doctor'], env);
    expect(code, stdout).toBe(0); // a busy port is a warning: the start falls back
    expect(stdout).toMatch(
      new RegExp(
        `WARN  port frontend: ${env['SYSTEM_MANAGER_PORT_FRONTEND']} is held by pid ${process.pid} `,
      ),
    );
    expect(stdout).toContain('SYSTEM_MANAGER_PORT_FRONTEND=<port>');
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
