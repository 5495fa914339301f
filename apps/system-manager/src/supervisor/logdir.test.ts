import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import {
  LogdirFollower,
  mergeByStamp,
  preparePrivateDirs,
  type StampedLine,
  tailOfLogdir,
} from './logdir.js';

const temps: { remove: () => void }[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.remove();
});
function scratch(): string {
  const t = tempDir('sm-logdir-');
  temps.push(t);
  return t.dir;
}

/** A TAI64N stamp for second `s`, nanosecond `ns` (hex, as s6-log writes it). */
function stamp(s: number, ns = 0): string {
  return `4000000069${s.toString(16).padStart(6, '0')}${ns.toString(16).padStart(8, '0')}`;
}
const line = (s: number, text: string, ns = 0) => `@${stamp(s, ns)} ${text}\n`;

describe('logdir reading', () => {
  it('the last lines come from current, then the archives before it, oldest first', () => {
    const dir = scratch();
    writeFileSync(path.join(dir, `@${stamp(10)}.s`), line(1, 'a') + line(2, 'b'));
    writeFileSync(path.join(dir, `@${stamp(20)}.u`), line(3, 'c'));
    writeFileSync(path.join(dir, 'current'), line(4, 'd') + line(5, 'e'));
    writeFileSync(path.join(dir, 'state'), '');
    expect(tailOfLogdir(dir, 4, 1 << 20).map((l) => l.text)).toEqual(['b', 'c', 'd', 'e']);
    expect(tailOfLogdir(dir, 100, 1 << 20).map((l) => l.text)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Bounded by bytes: what fits of the newest file only.
    expect(tailOfLogdir(dir, 100, line(5, 'e').length + 1).map((l) => l.text)).toEqual(['e']);
    expect(tailOfLogdir(path.join(dir, 'missing'), 5, 1 << 20)).toEqual([]);
  });

  it('a symlink in the logdir is not read through', () => {
    const base = scratch();
    const dir = path.join(base, 'logdir');
    mkdirSync(dir);
    const secret = path.join(base, 'secret');
    writeFileSync(secret, line(1, 'secret'));
    symlinkSync(secret, path.join(dir, 'current'));
    expect(tailOfLogdir(dir, 5, 1 << 20)).toEqual([]);
  });

  it('two streams merge in the order of their stamps, stdout first on a tie', () => {
    const stdout: StampedLine[] = [
      { stamp: stamp(1), text: 'out 1' },
      { stamp: stamp(3), text: 'out 3' },
    ];
    const stderr: StampedLine[] = [
      { stamp: stamp(2), text: 'err 2' },
      { stamp: stamp(3), text: 'err 3' },
    ];
    expect(mergeByStamp([stdout, stderr]).map((l) => l.text)).toEqual(['out 1', 'err 2', 'out 3', 'err 3']);
  });

  it('a follower starts at the end and reads across a rotation without losing a line', () => {
    const dir = scratch();
    const current = path.join(dir, 'current');
    writeFileSync(current, line(1, 'before'));
    const seen: string[] = [];
    const follower = new LogdirFollower(dir, (l) => seen.push(l.text));
    try {
      appendFileSync(current, `${line(2, 'one')}@${stamp(3)} tw`);
      follower.poll();
      expect(seen).toEqual(['one']);
      // The rest of "two", then a rotation, then a new current: all read, in order.
      appendFileSync(current, `o\n${line(4, 'three')}`);
      renameSync(current, path.join(dir, `@${stamp(9)}.s`));
      writeFileSync(current, line(5, 'four'));
      follower.poll();
      expect(seen).toEqual(['one', 'two', 'three', 'four']);
    } finally {
      follower.close();
    }
  });
});

describe('preparePrivateDirs', () => {
  it('creates 0700 directories, closes an open one, and removes planted symlinks without following them', () => {
    const root = path.join(scratch(), 'logs');
    const service = path.join(root, 'svc');
    const stdout = path.join(service, 'stdout');
    const elsewhere = path.join(path.dirname(root), 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(root, { mode: 0o700 });
    mkdirSync(service, { mode: 0o755 });
    symlinkSync(elsewhere, stdout);
    const removed: string[] = [];
    preparePrivateDirs(root, [service, stdout], (p) => removed.push(p));
    expect(removed).toEqual([stdout]);
    expect(lstatSync(stdout).isDirectory()).toBe(true);
    expect(statSync(service).mode & 0o777).toBe(0o700);
    expect(statSync(stdout).mode & 0o777).toBe(0o700);
    // A symlink at a file the writer opens by name.
    const victim = path.join(elsewhere, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, path.join(stdout, 'current'));
    preparePrivateDirs(root, [service, stdout], (p) => removed.push(p));
    expect(removed).toEqual([stdout, path.join(stdout, 'current')]);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
  });

  it('refuses a root that is a symlink, and a file where a directory should be', () => {
    const base = scratch();
    mkdirSync(path.join(base, 'real'));
    symlinkSync(path.join(base, 'real'), path.join(base, 'logs'));
    expect(() => preparePrivateDirs(path.join(base, 'logs'), [], () => {})).toThrow(/symbolic link/);
    const root = path.join(base, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'svc'), '');
    expect(() => preparePrivateDirs(root, [path.join(root, 'svc')], () => {})).toThrow(/not a directory/);
  });
});
