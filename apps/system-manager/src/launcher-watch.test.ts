import { describe, expect, it, vi } from 'vitest';
import {
  goneLauncher,
  isOutOfResources,
  launcherChain,
  parentIsPackageManager,
  type ReadStat,
  readProcStat,
  watchLauncher,
} from './launcher-watch.js';

type Stat = NonNullable<ReturnType<ReadStat>>;
const stat = (ppid: number, pgrp: number, startTime = '100', state = 'S'): Stat => ({
  state,
  ppid,
  pgrp,
  startTime,
});
/** `npx pnpm start` from an interactive bash (its own group 10): npm exec 20 → sh 21 → pnpm 22 → manager 23. */
const table = (): Map<number, Stat> =>
  new Map([
    [1, stat(0, 1)],
    [10, stat(1, 10)],
    [20, stat(10, 20, '200')],
    [21, stat(20, 20, '210')],
    [22, stat(21, 20, '220')],
    [23, stat(22, 20, '230')],
  ]);
const reader =
  (procs: Map<number, Stat>): ReadStat =>
  (pid) =>
    procs.get(pid) ?? null;
const cmd = (pid: number) => `cmd-${pid}`;

describe('launcherChain', () => {
  it('is the parent, then every ancestor of our process group; not the shell that leads another group, nor pid 1', () => {
    expect(launcherChain(23, reader(table()), cmd)).toEqual([
      { pid: 22, startTime: '220', command: 'cmd-22' },
      { pid: 21, startTime: '210', command: 'cmd-21' },
      { pid: 20, startTime: '200', command: 'cmd-20' },
    ]);
  });

  it('always holds the parent, even of another group; never pid 1', () => {
    const procs = table();
    procs.set(23, stat(22, 23, '230')); // we lead a group of our own
    expect(launcherChain(23, reader(procs), cmd).map((p) => p.pid)).toEqual([22]);
    procs.set(23, stat(1, 20, '230')); // already re-parented
    expect(launcherChain(23, reader(procs), cmd)).toEqual([]);
  });

  it('stops at an ancestor it cannot read or that is a zombie; empty without /proc', () => {
    const procs = table();
    procs.delete(21);
    expect(launcherChain(23, reader(procs), cmd).map((p) => p.pid)).toEqual([22]);
    procs.set(21, stat(20, 20, '210', 'Z'));
    expect(launcherChain(23, reader(procs), cmd).map((p) => p.pid)).toEqual([22]);
    expect(launcherChain(23, () => null, cmd)).toEqual([]);
  });
});

describe('goneLauncher', () => {
  it('names the first process that exited, is a zombie, or whose pid now has another start time', () => {
    const procs = table();
    const chain = launcherChain(23, reader(procs), cmd);
    expect(goneLauncher(chain, reader(procs))).toBeNull();
    procs.set(21, stat(20, 20, '999')); // pid 21 recycled by another process
    expect(goneLauncher(chain, reader(procs))?.pid).toBe(21);
    procs.set(22, stat(21, 20, '220', 'Z'));
    expect(goneLauncher(chain, reader(procs))?.pid).toBe(22);
    procs.delete(22);
    expect(goneLauncher(chain, reader(procs))?.pid).toBe(22);
  });
});

describe('watchLauncher', () => {
  it('reports a gone launcher once and stops polling; an error of a tick ends the watch and is reported', () => {
    vi.useFakeTimers();
    try {
      const procs = table();
      const chain = launcherChain(23, reader(procs), cmd);
      const onGone = vi.fn();
      const onError = vi.fn();
      const read = vi.fn(reader(procs));
      watchLauncher(chain, { onGone, onError }, { intervalMs: 1_000, readStat: read });
      vi.advanceTimersByTime(3_000);
      expect(onGone).not.toHaveBeenCalled();
      procs.delete(20);
      vi.advanceTimersByTime(5_000);
      expect(onGone).toHaveBeenCalledTimes(1);
      expect(onGone.mock.calls[0]?.[0]).toMatchObject({ pid: 20 });

      const failing = watchLauncher(
        chain,
        { onGone, onError },
        {
          readStat: () => {
            throw new Error('boom');
          },
        },
      );
      vi.advanceTimersByTime(5_000);
      expect(onError).toHaveBeenCalledTimes(1);
      failing.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('skips a tick that runs out of descriptors (EMFILE): neither gone nor an error; the next tick decides', () => {
    vi.useFakeTimers();
    try {
      const procs = table();
      const chain = launcherChain(23, reader(procs), cmd);
      const onGone = vi.fn();
      const onError = vi.fn();
      let outOfFds = true;
      const read: ReadStat = (pid) => {
        if (outOfFds) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
        return reader(procs)(pid);
      };
      const watch = watchLauncher(chain, { onGone, onError }, { intervalMs: 1_000, readStat: read });
      vi.advanceTimersByTime(5_000);
      expect(onGone).not.toHaveBeenCalled();
      expect(onError).not.toHaveBeenCalled();
      outOfFds = false;
      procs.delete(20);
      vi.advanceTimersByTime(1_000);
      expect(onGone).toHaveBeenCalledTimes(1);
      watch.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('readProcStat: a missing process is null; running out of descriptors is thrown, not taken for "gone"', () => {
    expect(readProcStat(2 ** 22 + 1)).toBeNull();
    expect(readProcStat(process.pid)?.ppid).toBe(process.ppid);
    expect(isOutOfResources(Object.assign(new Error('x'), { code: 'EMFILE' }))).toBe(true);
    expect(isOutOfResources(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
  });
});

describe('parentIsPackageManager', () => {
  const env = { npm_lifecycle_event: 'start', npm_lifecycle_script: 'exec node cli.js start' };
  it('is true when the parent lacks the script it set for us, false when it carries it (a descendant of the script)', () => {
    expect(parentIsPackageManager(env, 22, () => 'PATH=/usr/bin\0HOME=/root\0')).toBe(true);
    expect(
      parentIsPackageManager(
        env,
        22,
        () => 'npm_lifecycle_event=start\0npm_lifecycle_script=exec node cli.js start\0',
      ),
    ).toBe(false);
  });

  it('is false without a package script, for pid 1, or when the parent cannot be read', () => {
    expect(parentIsPackageManager({}, 22, () => '')).toBe(false);
    expect(parentIsPackageManager(env, 1, () => '')).toBe(false);
    expect(parentIsPackageManager(env, 22, () => null)).toBe(false);
  });
});

describe('readProcStat', () => {
  it.skipIf(process.platform !== 'linux')('reads this process: its parent, group and start time', () => {
    const own = readProcStat(process.pid);
    expect(own).toMatchObject({ ppid: process.ppid });
    expect(own?.startTime).toMatch(/^\d+$/);
    expect(readProcStat(2 ** 22 + 1)).toBeNull();
  });
});
