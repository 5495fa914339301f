import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configuredSocketGroup, groupId, unreachableFor } from './socket-group.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the control socket group', () => {
  it('is a gid as given, or the gid of the group(5) entry that names it exactly', () => {
    const entries: Record<string, string> = { ops: 'ops:x:4100:alice,bob', weird: 'other:x:1:' };
    const lookUp = (name: string) => entries[name] ?? null;
    expect(groupId(4321, lookUp)).toBe(4321);
    expect(groupId('ops', lookUp)).toBe(4100);
    expect(groupId('nope', lookUp)).toBeNull();
    // An entry for another name (a lookup that answered something else) is not taken.
    expect(groupId('weird', lookUp)).toBeNull();
  });

  it('is looked up on this machine: a known group resolves, an unknown one is a config error (exit 78)', () => {
    expect(configuredSocketGroup(undefined)).toBeUndefined();
    expect(configuredSocketGroup('root')).toBe(0);
    expect(() => configuredSocketGroup('no-such-group-sm')).toThrow(
      expect.objectContaining({ exitCode: 78, message: expect.stringContaining('control.socketGroup') }),
    );
  });

  it('names the first directory its members cannot search', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'sm-group-'));
    dirs.push(base);
    chmodSync(base, 0o755);
    const inner = path.join(base, 'a', 'b');
    mkdirSync(inner, { recursive: true, mode: 0o755 });
    expect(unreachableFor(4242, inner)).toBeNull();
    chmodSync(path.join(base, 'a'), 0o700);
    expect(unreachableFor(4242, inner)).toBe(path.join(base, 'a'));
  });
});
