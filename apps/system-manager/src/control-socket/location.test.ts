import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { controlSocketDir, listSockets, prepareSocketPlace, socketPathOf } from './location.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function place(): { dir: string; socket: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'sm-socket-'));
  dirs.push(base);
  const dir = path.join(base, 'run');
  return { dir, socket: socketPathOf(dir, '0b8c1a52-5c3e-4d83-9d5e-3f2a1c0e9b7d') };
}

describe('the control socket place', () => {
  it('is created private (0700) and accepted when nothing is at the socket path', () => {
    const { dir, socket } = place();
    prepareSocketPlace(dir, socket);
    expect(listSockets(dir).size).toBe(0);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
  });

  it('with a socket group: the directory is made 0750 of that group (its members must search it)', () => {
    if (process.getuid?.() !== 0) return expect(process.getuid?.()).not.toBe(0); // chown to any gid needs root
    const { dir, socket } = place();
    prepareSocketPlace(dir, socket, 4242);
    expect(lstatSync(dir)).toMatchObject({ gid: 4242 });
    expect(lstatSync(dir).mode & 0o777).toBe(0o750);
    // An existing private directory of ours is opened to the group, too.
    const existing = place();
    mkdirSync(existing.dir, { mode: 0o700 });
    prepareSocketPlace(existing.dir, existing.socket, 4242);
    expect(lstatSync(existing.dir).mode & 0o777).toBe(0o750);
  });

  it('refuses a planted socket path: a file, a symlink, a socket', async () => {
    for (const plant of ['file', 'symlink', 'socket'] as const) {
      const { dir, socket } = place();
      mkdirSync(dir, { mode: 0o700 });
      let server: net.Server | undefined;
      if (plant === 'file') writeFileSync(socket, '');
      if (plant === 'symlink') symlinkSync('/etc/passwd', socket);
      if (plant === 'socket') {
        const s = net.createServer();
        server = s;
        await new Promise<void>((resolve) => s.listen(socket, resolve));
      }
      expect(() => prepareSocketPlace(dir, socket), plant).toThrow(/exists already .*refusing to start/);
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    }
  });

  it('refuses a symlinked directory and one writable by its group or others', () => {
    const { dir, socket } = place();
    const real = `${dir}-real`;
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, dir);
    expect(() => prepareSocketPlace(dir, socket)).toThrow(/is a symlink/);
    for (const [mode, who] of [
      [0o770, 'its group'],
      [0o707, 'others'],
    ] as const) {
      const open = place();
      mkdirSync(open.dir);
      chmodSync(open.dir, mode);
      expect(() => prepareSocketPlace(open.dir, open.socket)).toThrow(`writable by ${who}`);
    }
  });

  it('refuses session names that would leave the directory, and paths a socket address cannot hold', () => {
    expect(() => socketPathOf('/run/x', '../etc/evil')).toThrow(/not a session id/);
    expect(() => socketPathOf('/run/x', '-rf')).toThrow(/not a session id/);
    expect(() => socketPathOf(`/${'d'.repeat(100)}`, 'abc')).toThrow(
      /longer than a Unix socket address holds/,
    );
  });

  it('is found where the environment says, in this order', () => {
    expect(controlSocketDir({ SYSTEM_MANAGER_RUNTIME_DIR: '/a', RUNTIME_DIRECTORY: '/b' })).toBe('/a');
    expect(
      controlSocketDir({ RUNTIME_DIRECTORY: '/run/system-manager:/run/other', XDG_RUNTIME_DIR: '/c' }),
    ).toBe('/run/system-manager');
    expect(controlSocketDir({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/system-manager');
    // A relative XDG_RUNTIME_DIR is invalid by the spec: ignored.
    expect(controlSocketDir({ XDG_RUNTIME_DIR: 'rel' })).not.toContain('rel');
  });
});
