// The PID-1 pieces without being PID 1: finding the reaper on PATH, the exit
// status, what `start` hands the reaper (a stand-in tini records it), and
// reading a namespace's PID 1 from a planted /proc.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { killTagged, tagEnv, tempDir, waitUntil } from '../test/helpers.js';
import {
  exitStatus,
  FORWARDED_SIGNALS,
  findReaper,
  inspectInit,
  NO_REAPER_MESSAGE,
  runAsInit,
} from './init-process.js';
import type { Logger } from './logger.js';

function executable(file: string, text = '#!/bin/sh\n'): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

function recordingLogger() {
  return { info: vi.fn(), warn: vi.fn() } as unknown as Logger & {
    info: ReturnType<typeof vi.fn>;
    warn: ReturnType<typeof vi.fn>;
  };
}

describe('findReaper', () => {
  it('takes the first executable tini on PATH, then tini-static; skips relative entries and non-executables', () => {
    const { dir } = tempDir('sm-init-');
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    mkdirSync(a);
    writeFileSync(path.join(a, 'tini'), ''); // not executable
    const tini = executable(path.join(b, 'tini'));
    expect(findReaper({ PATH: `relative:${a}:${b}` })).toBe(tini);
    const c = path.join(dir, 'c');
    const tiniStatic = executable(path.join(c, 'tini-static'));
    expect(findReaper({ PATH: `${a}:${c}` })).toBe(tiniStatic);
    expect(findReaper({ PATH: a })).toBeNull();
    expect(findReaper({})).toBeNull();
  });
});

describe('exitStatus', () => {
  it('is the code, or 128 + the signal number as a shell reports it', () => {
    expect(exitStatus(0, null)).toBe(0);
    expect(exitStatus(78, null)).toBe(78);
    expect(exitStatus(null, 'SIGTERM')).toBe(143);
    expect(exitStatus(null, 'SIGKILL')).toBe(137);
  });
});

describe('runAsInit', () => {
  it('without a reaper: warns with the fix and leaves the start to this process', async () => {
    const log = recordingLogger();
    expect(await runAsInit(log, { PATH: '' })).toBeUndefined();
    expect(log.warn).toHaveBeenCalledOnce();
    const [fields, message] = log.warn.mock.calls[0] as [Record<string, unknown>, string];
    expect(message).toContain(NO_REAPER_MESSAGE);
    expect(message).toContain('docker run --init');
    expect(String(fields['fix'])).toContain('install tini');
  });

  it('runs this command line again under `tini -s --`, forwards signals to it and resolves with its exit status', async () => {
    onTestFinished(async () => {
      await killTagged();
    });
    const { dir } = tempDir('sm-init-');
    const record = path.join(dir, 'record');
    // A stand-in tini: records its arguments, exits 7 on SIGTERM, gives up after 10 s.
    executable(
      path.join(dir, 'bin', 'tini'),
      // The trap before the record: once the arguments are there, a SIGTERM finds it.
      `#!/bin/sh\ntrap 'echo TERM >> "$RECORD"; exit 7' TERM\necho "$@" > "$RECORD"\n` +
        'i=0; while [ $i -lt 200 ]; do /bin/sleep 0.05; i=$((i+1)); done\nexit 1\n',
    );
    const log = recordingLogger();
    const before = FORWARDED_SIGNALS.map((signal) => process.listeners(signal));
    const status = runAsInit(log, { PATH: path.join(dir, 'bin'), RECORD: record, ...tagEnv() });
    await waitUntil(() => existsSync(record) && readFileSync(record, 'utf8') !== '', 5_000, 'tini');
    expect(readFileSync(record, 'utf8').trim()).toBe(
      ['-s', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' '),
    );
    expect(log.info).toHaveBeenCalledWith(
      expect.objectContaining({ reaper: path.join(dir, 'bin', 'tini') }),
      expect.stringMatching(/running as PID 1: the manager runs under .*tini -s/),
    );
    // The handlers PID 1 needs, called rather than signalled: this test worker's own listeners stay out of it.
    const termBefore = before[FORWARDED_SIGNALS.indexOf('SIGTERM')] ?? [];
    const added = process.listeners('SIGTERM').filter((listener) => !termBefore.includes(listener));
    expect(added).toHaveLength(1);
    added[0]?.('SIGTERM');
    expect(await status).toBe(7);
    expect(readFileSync(record, 'utf8')).toContain('TERM');
    expect(FORWARDED_SIGNALS.map((signal) => process.listeners(signal))).toEqual(before);
  });
});

describe('inspectInit (a planted /proc)', () => {
  const CLI = '/opt/app/node_modules/@core/system-manager/dist/cli.js';
  function proc(entries: Record<string, { cmdline?: string[]; stat?: string }>): string {
    const { dir } = tempDir('sm-init-proc-');
    for (const [pid, { cmdline, stat }] of Object.entries(entries)) {
      mkdirSync(path.join(dir, pid));
      if (cmdline) writeFileSync(path.join(dir, pid, 'cmdline'), `${cmdline.join('\0')}\0`);
      if (stat) writeFileSync(path.join(dir, pid, 'stat'), stat);
      const comm = stat === undefined ? undefined : /\((.*)\)/.exec(stat)?.[1];
      if (comm) writeFileSync(path.join(dir, pid, 'comm'), `${comm}\n`);
    }
    return dir;
  }
  const manager = ['node', CLI, 'start', '--config', '/etc/c.json'];

  it('PID 1 is a manager with tini below it', () => {
    const root = proc({
      '1': { cmdline: manager, stat: '1 (node) S 0 1 1 0' },
      '12': { stat: '12 (tini) S 1 1 1 0' },
      '13': { stat: '13 (node) S 12 13 13 0' },
      '40': { stat: '40 (sleep) Z 12 13 13 0' }, // tini's to reap, not PID 1's
    });
    expect(inspectInit(root, 99, '/somewhere/else.js')).toEqual({
      kind: 'manager',
      reaper: { pid: 12, command: 'tini' },
      zombies: 0,
    });
  });

  it('PID 1 is a manager without a reaper: its zombie children are counted', () => {
    const root = proc({
      '1': { cmdline: ['/usr/bin/node', '/srv/cli.js', 'start'], stat: '1 (node) S 0 1 1 0' },
      '20': { stat: '20 (node) S 1 20 20 0' },
      '30': { stat: '30 (sleep) Z 1 20 20 0' },
      '31': { stat: '31 (a (weird) name) Z 1 20 20 0' },
    });
    // Recognised as the same CLI as the one inspecting it.
    expect(inspectInit(root, 99, '/srv/cli.js')).toEqual({ kind: 'manager', reaper: null, zombies: 2 });
  });

  it('another PID 1, this process as PID 1, and an unreadable /proc', () => {
    // docker-init runs the manager: it is the one that reaps.
    const init = ['/sbin/docker-init', '--', 'system-manager', 'start'];
    const root = proc({ '1': { cmdline: init, stat: '1 (docker-init) S 0 1 1 0' } });
    expect(inspectInit(root, 99, CLI)).toEqual({ kind: 'other', command: init.join(' ') });
    // The CLI, but not its `start`.
    const doctor = proc({ '1': { cmdline: ['node', CLI, 'doctor'], stat: '1 (node) S 0 1 1 0' } });
    expect(inspectInit(doctor, 99, CLI)).toMatchObject({ kind: 'other' });
    const other = proc({ '1': { cmdline: ['/sbin/init'], stat: '1 (systemd) S 0 1 1 0' } });
    expect(inspectInit(other, 99, CLI)).toEqual({ kind: 'other', command: '/sbin/init' });
    expect(inspectInit(other, 1, CLI)).toEqual({ kind: 'self' });
    expect(inspectInit(path.join(other, 'missing'), 99, CLI)).toEqual({ kind: 'unknown' });
  });
});
