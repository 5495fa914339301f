import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDir } from '../test/helpers.js';
import { SessionDirUnsafeError } from './errors.js';
import {
  createExclusiveFileSync,
  ensurePrivateDir,
  readPrivateFileSync,
  writePrivateFileSync,
} from './files.js';
import { createSessionManager } from './singleton.js';

function unsafeError(fn: () => unknown): SessionDirUnsafeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionDirUnsafeError);
    return error as SessionDirUnsafeError;
  }
  throw new Error('expected E_SESSION_DIR_UNSAFE');
}

describe('the session directory', () => {
  it('is created 0700 and its files 0600', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    await manager.registerVm('vm-1', 'z', []);
    await manager.claimResources('port', () => [{ kind: 'port', id: '1' }]);
    for (const sub of ['', 'sessions', 'claims']) expect(statSync(join(dir, sub)).mode & 0o777).toBe(0o700);
    const { readdirSync } = await import('node:fs');
    const claim = join(dir, 'claims', readdirSync(join(dir, 'claims'))[0] as string);
    for (const file of [manager.sessionFile, manager.globalTrackerFile, claim]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
  });

  it('is refused when group/world-writable', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const error = unsafeError(() => createSessionManager({ dir }));
    expect(error.code).toBe('E_SESSION_DIR_UNSAFE');
    expect(error.message).toContain(dir);
    expect(error.message).toContain('0777');
    expect(error.message).toContain('CORE_SESSION_DIR');
  });

  it('is refused when it is a symlink, even to a private directory', () => {
    const real = freshDir();
    mkdirSync(real, { recursive: true, mode: 0o700 });
    const link = `${real}-link`;
    symlinkSync(real, link);
    const error = unsafeError(() => createSessionManager({ dir: link }));
    expect(error.message).toContain('symbolic link');
  });

  it.skipIf(process.getuid?.() !== 0)('is refused when owned by another user', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, 65534, 65534);
    expect(unsafeError(() => ensurePrivateDir(dir)).message).toContain('owned by uid 65534');
  });

  it('is taken from CORE_SESSION_DIR when no option is given', () => {
    const dir = freshDir();
    const before = process.env['CORE_SESSION_DIR'];
    process.env['CORE_SESSION_DIR'] = dir;
    try {
      expect(createSessionManager().dir).toBe(dir);
    } finally {
      if (before === undefined) delete process.env['CORE_SESSION_DIR'];
      else process.env['CORE_SESSION_DIR'] = before;
    }
  });
});

describe('private files', () => {
  it('never follow a symlink on read, and a write replaces the link, not its target', () => {
    const dir = freshDir();
    ensurePrivateDir(dir);
    const target = join(dir, '..', 'victim.txt');
    writeFileSync(target, 'precious');
    const path = join(dir, 'file.json');
    symlinkSync(target, path);
    expect(readPrivateFileSync(path)).toEqual({ kind: 'unsafe', reason: 'it is a symbolic link' });
    writePrivateFileSync(path, 'new', { fsync: true });
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(readPrivateFileSync(path)).toEqual({ kind: 'ok', text: 'new' });
  });

  it('are created exclusively, complete, once', () => {
    const dir = freshDir();
    ensurePrivateDir(dir);
    const path = join(dir, 'once.json');
    expect(createExclusiveFileSync(path, 'first')).toBe(true);
    expect(createExclusiveFileSync(path, 'second')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
