// A record nobody should trust: anyone who can write to the registry can
// plant a dead session whose "orphaned process" copies a live service's pid
// and start time (both visible in the live record). The reaper checks the
// process itself — the session id in /proc/<pid>/environ — before any
// signal: the live service is never touched. And the orphan of a really
// dead manager, which carries that manager's id, is still stopped.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  httpGet,
  isAlive,
  killTagged,
  type ManagerUnderTest,
  misbehaving,
  runToEnd,
  startManager,
  waitUntil,
} from './helpers.js';

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) {
    if (m.child.exitCode === null && m.child.signalCode === null) {
      m.child.kill('SIGTERM');
      await m.exited;
    }
    m.remove();
  }
  await killTagged();
});

interface StoredRecord {
  sessionId: string;
  pid: number;
  resources: { kind: string; id: string; pid?: number; processStartTime?: string }[];
  [key: string]: unknown;
}

function records(sessionDir: string): StoredRecord[] {
  const dir = path.join(sessionDir, 'sessions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as StoredRecord);
}

describe('reaping checks the process itself (real manager, real service)', { timeout: 60_000 }, () => {
  it("a planted dead session that copies a live service's pid and start time gets no signal sent", async () => {
    const m = await manager();
    const sessionDir = m.env['CORE_SESSION_DIR'] as string;
    const [live] = records(sessionDir);
    const service = live?.resources.find((r) => r.kind === 'process');
    expect(service?.pid).toBeGreaterThan(0);
    // The copy: another session id, a dead owner (pid 2^22 - 1 is above any pid_max default in use here), same process.
    const planted: StoredRecord = {
      ...(live as StoredRecord),
      sessionId: 'planted-by-someone-else',
      pid: 4_194_303,
      processStartTime: '1',
      resources: [service as StoredRecord['resources'][number]],
    };
    writeFileSync(
      path.join(sessionDir, 'sessions', 'planted-by-someone-else.json'),
      JSON.stringify(planted),
      {
        mode: 0o600,
      },
    );

    const { code, stdout, stderr } = await runToEnd(['sessions', 'cleanup', '--json'], m.env);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as { actions: { id: string; outcome: string; detail?: string }[] };
    expect(report.actions).toEqual([
      expect.objectContaining({
        id: service?.id,
        outcome: 'skipped-not-ours',
        detail: expect.stringContaining(`belongs to session "${live?.sessionId}"`),
      }),
    ]);
    expect(isAlive(service?.pid as number)).toBe(true);
    const control = await m.ready();
    expect((await httpGet(control, '/health')).status).toBe(200);
  });

  it("a killed manager's orphan carries its session id and is stopped by the next cleanup", async () => {
    const m = await manager();
    const sessionDir = m.env['CORE_SESSION_DIR'] as string;
    const orphan = records(sessionDir)[0]?.resources.find((r) => r.kind === 'process');
    m.child.kill('SIGKILL');
    await m.exited;
    expect(isAlive(orphan?.pid as number)).toBe(true);
    const { code, stdout, stderr } = await runToEnd(['sessions', 'cleanup', '--json'], m.env);
    expect(code, stderr).toBe(0);
    expect((JSON.parse(stdout) as { actions: { outcome: string }[] }).actions).toContainEqual(
      expect.objectContaining({ kind: 'process', id: orphan?.id, outcome: 'killed' }),
    );
    await waitUntil(() => !isAlive(orphan?.pid as number), 5_000, 'the orphan to exit');
  });
});

async function manager(): Promise<ManagerUnderTest> {
  const m = await startManager({ shutdown: { graceMs: 2_000 }, services: [misbehaving('api', 'none')] });
  managers.push(m);
  await m.ready();
  return m;
}
