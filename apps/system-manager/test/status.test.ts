// status (like pm2 ls) and ports against real managers and real orphans; read-only commands create no files.
import { chownSync, cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpGet, isAlive, portEnv, waitUntil } from './helpers.js';
import { cleanups, runToEnd, scratch, setup, statusJson } from './operator.js';

// Each test starts a manager and runs the CLI several times, each a Node start-up: 10 s was
// passed with two busy loops beside the suite.
describe('status (like pm2 ls)', { timeout: 30_000 }, () => {
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
  }, 30_000); // a manager started and killed, then five CLI runs: slow on a loaded machine

  it('--all-users reads every user directory under the temp dir (root), including another uid', async () => {
    const t = setup();
    const { r } = await t.start();
    // TMPDIR moves os.tmpdir(): a fake "other user" directory (owned by uid 4242) holding a copy of the live session files.
    const tmp = path.join(t.dir, 'tmp');
    const other = path.join(tmp, 'core-session-4242');
    mkdirSync(tmp, { recursive: true });
    cpSync(t.sessionDir, other, { recursive: true });
    const own = (p: string) => {
      chownSync(p, 4242, 4242);
      if (statSync(p).isDirectory()) for (const f of readdirSync(p)) own(path.join(p, f));
    };
    if (process.getuid?.() === 0) own(other);
    const env = { TMPDIR: tmp, CORE_SESSION_DIR: path.join(tmp, 'core-session-0') };
    expect((await statusJson(env)).sessions).toEqual([]);
    const all = await statusJson(env, ['--all-users']);
    expect(all.sessions.map((s) => s.pid)).toEqual([r.child.pid]);
  });
});

describe('read-only commands create no session files', { timeout: 30_000 }, () => {
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
      ['unit', '--allow-temp-paths'],
      ['--help'],
    ]) {
      const { code, stderr } = await runToEnd(args, env);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(0);
    }
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000); // eight CLI runs one after the other: each a Node start-up, slow on a loaded machine

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

describe('ports', { timeout: 30_000 }, () => {
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
