// A signal during a start phase aborts that phase at once: the manager stops
// what it started, unregisters and exits 0 well within the shutdown grace
// period — not after the start timeout, and without starting anything more.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  isAlive,
  killTagged,
  liveSessions,
  logLines,
  type ManagerUnderTest,
  misbehaving,
  run,
  startManager,
  taggedPids,
  tempDir,
  waitUntil,
} from './helpers.js';

const managers: ManagerUnderTest[] = [];
const dirs: (() => void)[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
  for (const d of dirs.splice(0)) d();
});

describe('prompt, clean abort of start (real processes)', { timeout: 60_000 }, () => {
  it('SIGINT while waiting for health: exits 0 at once, not after the 20 s start timeout; the service is stopped', async () => {
    const m = await startManager({
      shutdown: { graceMs: 3_000 },
      services: [
        misbehaving('slow', 'slow-start', { env: { START_DELAY_MS: '30000' }, startTimeoutMs: 20_000 }),
      ],
    });
    managers.push(m);
    const started = await m.waitForLog((e) => e['msg'] === 'service started');
    const servicePid = Number(started['servicePid']);
    const signalledAt = Date.now();
    m.child.kill('SIGINT');
    const { code } = await m.exited;
    expect(code, m.stderr()).toBe(0);
    expect(Date.now() - signalledAt, m.stderr()).toBeLessThan(3_000);
    expect(isAlive(servicePid)).toBe(false);
    const msgs = logLines(m).map((e) => String(e['msg']));
    expect(msgs).toContain('start aborted; stopping what was started');
    expect(msgs).not.toContain('all services healthy');
    expect(await liveSessions(m.env)).toEqual([]);
  });

  it('SIGTERM while the reaper waits for an orphan that ignores SIGTERM: it is SIGKILLed at once (verified), exit 0 long before the 10 s grace', async () => {
    // A manager whose service ignores SIGTERM, killed -9: its service is an orphan of a dead session.
    const first = await startManager({ services: [misbehaving('stubborn', 'ignore-term')] });
    managers.push(first);
    const started = await first.waitForLog((e) => e['msg'] === 'service started');
    const orphanPid = Number(started['servicePid']);
    await first.ready();
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isAlive(orphanPid)).toBe(true);

    // The next start reaps it: SIGTERM (ignored), then a wait of up to shutdown.graceMs before SIGKILL.
    const m = await startManager(
      { shutdown: { graceMs: 10_000 }, services: [misbehaving('never-started', '')] },
      { CORE_SESSION_DIR: first.env['CORE_SESSION_DIR'] as string },
    );
    managers.push(m);
    await m.waitForLog((e) => e['msg'] === 'reaping stale session');
    await new Promise((r) => setTimeout(r, 300)); // its SIGTERM is out: the reaper now waits for it
    expect(isAlive(orphanPid)).toBe(true); // it ignored the SIGTERM
    const signalledAt = Date.now();
    m.child.kill('SIGTERM');
    const { code } = await m.exited;
    expect(code, m.stderr()).toBe(0);
    expect(Date.now() - signalledAt, m.stderr()).toBeLessThan(3_000);
    await waitUntil(() => !isAlive(orphanPid), 2_000, 'the orphan to be gone');
    const killed = logLines(m).find((e) => String(e['msg']).startsWith('cleanup process stubborn@'));
    expect(killed, m.stderr()).toMatchObject({
      outcome: 'killed',
      detail: `pid ${orphanPid} SIGKILL at once (start aborted)`,
    });
    expect(logLines(m).map((e) => String(e['msg']))).not.toContain('service started');
  });

  it('SIGTERM during a slow reap (a VM cleanup command that hangs): the command is stopped, the VM stays recorded, exit 0 within the grace period, no service started', async () => {
    const tmp = tempDir('sm-abort-');
    dirs.push(tmp.remove);
    const sessionDir = path.join(tmp.dir, 'sessions');
    // A dead session that owned a VM: reaping it runs the (slow) cleanup command.
    const owner = run(
      ['vm-slow-1', 'zone-a'],
      { CORE_SESSION_DIR: sessionDir },
      path.join(FIXTURES, 'own-vm.ts'),
    );
    await waitUntil(() => owner.stdout().includes('sessionId'), 15_000, 'VM registration');
    owner.child.kill('SIGKILL');
    await owner.exited;

    const m = await startManager(
      {
        shutdown: { graceMs: 2_000 },
        cleanup: { vm: { command: [process.execPath, '-e', 'setTimeout(() => {}, 8000)', '{id}'] } },
        services: [misbehaving('never-started', '')],
      },
      { CORE_SESSION_DIR: sessionDir },
    );
    managers.push(m);
    await m.waitForLog((e) => e['msg'] === 'reaping stale session');
    const isCleanupCommand = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('setTimeout(() => {}, 8000)');
      } catch {
        return false;
      }
    };
    await waitUntil(() => taggedPids().some(isCleanupCommand), 10_000, 'the cleanup command to run');
    const signalledAt = Date.now();
    m.child.kill('SIGTERM');
    // The manager's own part is prompt: services never started, session handled, "stopped" logged.
    const stopped = await m.waitForLog((e) => e['msg'] === 'stopped');
    expect(Number(stopped['time']) - signalledAt, m.stderr()).toBeLessThan(3_000);
    const { code } = await m.exited;
    expect(code, m.stderr()).toBe(0);
    expect(Date.now() - signalledAt, m.stderr()).toBeLessThan(3_000);
    const msgs = logLines(m).map((e) => String(e['msg']));
    expect(msgs, m.stderr()).toContain('start aborted; stopping what was started');
    expect(msgs, m.stderr()).not.toContain('service started');
    // The abort ended the cleanup command too, and its VM is still recorded (in the dead session or
    // adopted by the manager's own): nothing is forgotten, a later cleanup runs the delete again.
    expect(taggedPids().filter(isCleanupCommand)).toEqual([]);
    const recorded = readdirSync(path.join(sessionDir, 'sessions'))
      .filter((name) => name.includes('.json') && !name.startsWith('.'))
      .map((name) => readFileSync(path.join(sessionDir, 'sessions', name), 'utf8'));
    expect(
      recorded.some((text) => text.includes('"vm-slow-1"')),
      recorded.join('\n'),
    ).toBe(true);
  });
});
