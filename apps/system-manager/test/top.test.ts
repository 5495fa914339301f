// `system-manager top` in a real pseudo-terminal: tmux (its own server, on a
// socket of this test) runs the CLI against a real manager; what is on the
// screen is read with `capture-pane`, keys are sent with `send-keys`.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  APP_DIR,
  CLI,
  killTagged,
  type ManagerUnderTest,
  misbehaving,
  NODE_TS,
  runToEnd,
  runtimeDir,
  startManager,
  tagEnv,
  tempDir,
  waitUntil,
} from './helpers.js';

afterEach(async () => {
  await killTagged();
});

const SERVICES = {
  services: [
    misbehaving('api', 'tick', { env: { TICK_MS: '200' } }),
    misbehaving('web', 'tick', { port: 'frontend', env: { TICK_MS: '200' } }),
  ],
  intervals: { healthMs: 100, healthIdleMs: 100 },
};

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** A tmux server of this test only, removed (with its socket) when the test ends. */
function tmuxServer(env: Record<string, string>) {
  const tmp = tempDir('sm-tmux-');
  const name = `sm-top-${process.pid}`;
  const tmuxEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    ...tagEnv(),
    TMUX_TMPDIR: tmp.dir,
    TERM: 'xterm-256color',
  };
  delete tmuxEnv['TMUX'];
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', name, ...args], { env: tmuxEnv, encoding: 'utf8' });
  onTestFinished(() => {
    spawnSync('tmux', ['-L', name, 'kill-server'], { env: tmuxEnv });
    tmp.remove(); // the server's socket lives in there
  });
  return {
    tmux,
    screen: () => tmux('capture-pane', '-p', '-t', 'top'),
    pane: (format: string) => tmux('display-message', '-p', '-t', 'top', format).trim(),
  };
}

async function serviceOf(m: ManagerUnderTest, name: string): Promise<ServiceStatus | undefined> {
  return (await m.status()).services.find((s) => s.name === name);
}

describe('system-manager top', { timeout: 90_000 }, () => {
  it('without a terminal: says so on stderr, draws nothing, exit 2', async () => {
    const { code, stdout, stderr } = await runToEnd(['top'], {});
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('top needs a terminal');
  });

  it('in a terminal: shows the services, stops one with `s`, notices the manager going away, quits on `q` restoring the screen', async () => {
    expect(hasTmux, 'tmux is needed for this test (apt-get install tmux)').toBe(true);
    const m = await startManager(SERVICES);
    await m.ready();
    const api = (await serviceOf(m, 'api')) as ServiceStatus;
    const web = (await serviceOf(m, 'web')) as ServiceStatus;
    const { tmux, screen, pane } = tmuxServer(m.env);
    // The shell prints top's exit status and stays, so the screen after it can be read.
    const command = [process.execPath, ...NODE_TS, CLI, 'top'].map((a) => `'${a}'`).join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      '120',
      '-y',
      '30',
      '-c',
      APP_DIR,
      `${command}; echo "top exited with $?"; exec sleep 600`,
    );
    const row = (name: string) =>
      screen()
        .split('\n')
        .find((l) => l.startsWith(`${name} `)) ?? '';

    // Every service, its state, pid and port; the selected one's last lines.
    await waitUntil(() => row('api') !== '' && row('web') !== '', 30_000, 'both rows on screen');
    expect(row('api')).toMatch(new RegExp(`^api\\s+healthy\\s+${api.pid}\\s+${api.port}\\s`));
    expect(row('web')).toMatch(new RegExp(`^web\\s+healthy\\s+${web.pid}\\s+${web.port}\\s`));
    const session = (readdirSync(runtimeDir).find((f) => f.endsWith('.sock')) as string).slice(0, -5);
    expect(screen()).toContain(`session ${session} — 2 services`);
    await waitUntil(() => /^tick \d+$/m.test(screen()), 10_000, "api's last lines");
    expect(pane('#{alternate_on} #{cursor_flag}')).toBe('1 0'); // alternate screen, cursor hidden

    // Down to `web`, `s`: the manager stops it (the socket's answer is shown), `api` keeps running.
    tmux('send-keys', '-t', 'top', 'j');
    await waitUntil(() => screen().includes('── web'), 5_000, 'web selected');
    tmux('send-keys', '-t', 'top', 's');
    await waitUntil(() => screen().includes('web: stopped'), 15_000, 'the stop outcome');
    expect((await serviceOf(m, 'web'))?.state).toBe('stopped');
    await waitUntil(() => /^web\s+stopped\s+-\s/.test(row('web')), 5_000, 'web shown stopped');
    expect(await serviceOf(m, 'api')).toMatchObject({ pid: api.pid, state: 'healthy' });

    // The manager goes away: top says so and keeps its screen.
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
    await waitUntil(() => screen().includes('manager gone'), 10_000, '"manager gone"');

    // `q`: the terminal as it was (alternate screen left, cursor shown), exit 0.
    tmux('send-keys', '-t', 'top', 'q');
    await waitUntil(() => screen().includes('top exited with'), 10_000, 'top to exit');
    expect(screen()).toContain('top exited with 0');
    expect(screen()).not.toContain('SERVICE');
    expect(pane('#{alternate_on} #{cursor_flag}')).toBe('0 1');
  });

  it('Ctrl-C quits (exit 0), SIGTERM ends it (exit 143): both leave the alternate screen', async () => {
    expect(hasTmux, 'tmux is needed for this test (apt-get install tmux)').toBe(true);
    const m = await startManager(SERVICES);
    await m.ready();
    const { tmux } = tmuxServer(m.env);
    const command = [process.execPath, ...NODE_TS, CLI, 'top'].map((a) => `'${a}'`).join(' ');
    const run = (name: string) =>
      tmux(
        'new-session',
        '-d',
        '-s',
        name,
        '-x',
        '100',
        '-y',
        '20',
        '-c',
        APP_DIR,
        `${command}; echo "top exited with $?"; exec sleep 600`,
      );
    const at = (name: string, format: string) => tmux('display-message', '-p', '-t', name, format).trim();
    const text = (name: string) => tmux('capture-pane', '-p', '-t', name);

    run('ctrl-c');
    await waitUntil(() => text('ctrl-c').includes('api '), 30_000, 'the first frame');
    expect(at('ctrl-c', '#{alternate_on}')).toBe('1');
    tmux('send-keys', '-t', 'ctrl-c', 'C-c');
    await waitUntil(() => text('ctrl-c').includes('top exited with'), 10_000, 'top to exit on Ctrl-C');
    expect(text('ctrl-c')).toContain('top exited with 0');
    expect(at('ctrl-c', '#{alternate_on} #{cursor_flag}')).toBe('0 1');

    run('term');
    await waitUntil(() => text('term').includes('api '), 30_000, 'the first frame');
    // The pane's shell runs top as its only child.
    const shell = at('term', '#{pane_pid}');
    const top = Number(readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim());
    expect(readFileSync(`/proc/${top}/cmdline`, 'utf8')).toContain('top');
    process.kill(top, 'SIGTERM');
    await waitUntil(() => text('term').includes('top exited with'), 10_000, 'top to exit on SIGTERM');
    expect(text('term')).toContain('top exited with 143');
    expect(at('term', '#{alternate_on} #{cursor_flag}')).toBe('0 1');
  });

  it('Ctrl-Z gives the terminal back to the shell; fg takes it again', async () => {
    expect(hasTmux, 'tmux is needed for this test (apt-get install tmux)').toBe(true);
    const m = await startManager(SERVICES);
    await m.ready();
    const { tmux, screen, pane } = tmuxServer(m.env);
    // An interactive shell with job control, as an operator has.
    tmux(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      '100',
      '-y',
      '20',
      '-c',
      APP_DIR,
      'exec env HISTFILE= bash --norc --noprofile -i',
    );
    const command = [process.execPath, ...NODE_TS, CLI, 'top'].map((a) => `'${a}'`).join(' ');
    tmux('send-keys', '-t', 'top', command, 'Enter');
    await waitUntil(() => screen().includes('api '), 30_000, 'the first frame');
    tmux('send-keys', '-t', 'top', 'C-z');
    await waitUntil(() => pane('#{alternate_on}') === '0', 10_000, 'the terminal given back');
    expect(pane('#{cursor_flag}')).toBe('1');
    expect(screen()).toMatch(/Stopped/);
    tmux('send-keys', '-t', 'top', 'fg', 'Enter');
    await waitUntil(
      () => pane('#{alternate_on}') === '1' && screen().includes('api '),
      10_000,
      'the view back',
    );
    tmux('send-keys', '-t', 'top', 'q');
    await waitUntil(() => pane('#{alternate_on}') === '0', 10_000, 'top to quit');
    tmux('send-keys', '-t', 'top', 'echo "top exited with $?"', 'Enter');
    await waitUntil(() => /^top exited with 0$/m.test(screen()), 10_000, 'the exit status');
  });
});
