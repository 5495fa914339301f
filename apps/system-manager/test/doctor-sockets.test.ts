// doctor lists the control sockets of the runtime directory: a live
// manager's (answering, 0600, its session in the registry), a stale one left
// by a killed process, and a live one whose mode was widened.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeDir, tagEnv, waitUntil } from './helpers.js';
import { cleanups, runToEnd, setup } from './operator.js';

interface Check {
  check: string;
  status: string;
  message: string;
  fix?: string;
}

async function doctor(env: Record<string, string>): Promise<Check[]> {
  const { stdout, stderr } = await runToEnd(['doctor', '--json'], env);
  expect(stdout, stderr).not.toBe('');
  return (JSON.parse(stdout) as { checks: Check[] }).checks.filter((c) =>
    c.check.startsWith('control socket'),
  );
}

describe('doctor: control sockets', { timeout: 60_000 }, () => {
  it('none: says so', async () => {
    const t = setup();
    expect(await doctor(t.env)).toEqual([
      { check: 'control sockets', status: 'ok', message: `none in ${runtimeDir}` },
    ]);
  });

  it('lists a live manager’s socket, flags a stale socket and a widened mode', async () => {
    const t = setup();
    const { r, ports } = await t.start();
    const env = { ...t.env, ...ports };
    const session = (readdirSync(runtimeDir).find((f) => f.endsWith('.sock')) as string).slice(0, -5);
    const live = path.join(runtimeDir, `${session}.sock`);

    // A socket whose process was killed: the file stays, nobody answers.
    const stale = path.join(runtimeDir, 'dead-session.sock');
    const holder = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      { env: { ...process.env, ...tagEnv() }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    cleanups.push(() => {
      holder.kill('SIGKILL');
    });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(existsSync(stale)).toBe(true);

    const checks = await doctor(env);
    expect(checks).toHaveLength(2);
    const mine = checks.find((c) => c.check === `control socket ${session}`);
    expect(mine).toMatchObject({ status: 'ok' });
    expect(mine?.message).toContain(`${live}: manager pid ${r.child.pid} answers`);
    expect(mine?.message).toContain('mode 0600, uid');
    expect(mine?.message).toContain(`session live in the registry (pid ${r.child.pid})`);
    const dead = checks.find((c) => c.check === 'control socket dead-session');
    expect(dead).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('stale, no manager answers'),
    });
    expect(dead?.message).toContain('session not in this registry');
    expect(dead?.fix).toContain(`rm ${stale}`);
    // doctor removes nothing.
    expect(existsSync(stale)).toBe(true);

    // Widened by hand: open to others fails; open to a group no config names is a warning.
    chmodSync(live, 0o666);
    let widened = (await doctor(env)).find((c) => c.check === `control socket ${session}`);
    expect(widened).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('other users can open it'),
    });
    chmodSync(live, 0o660);
    widened = (await doctor(env)).find((c) => c.check === `control socket ${session}`);
    expect(widened).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('no control.socketGroup is configured'),
    });
    chmodSync(live, 0o600);

    r.child.kill('SIGTERM');
    await waitUntil(() => !existsSync(live), 10_000, 'the manager to remove its socket');
  });
});
