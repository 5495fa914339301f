// Real write faults: a full tmpfs (root only) and a file size limit
// (`prlimit --fsize`, any user). Every failed write must keep the previous
// file whole, lose nothing committed, leave no temp file, and say so with
// E_SESSION_WRITE_FAILED; once space returns, everything works again.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSessionManager, FileSessionStore, type SessionError } from '../src/index.js';
import { parseSessionRecord } from '../src/store.js';
import { freshDir, tempDir } from './helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeFileSync(filler, chunk, { flag: 'a' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  return filler;
}

describe('a full disk (real tmpfs)', () => {
  it.skipIf(!isRoot)(
    '(root only: mounts a tmpfs) 100+ writes fail whole: no torn file, no lost entry, no temp left; works once space returns',
    { timeout: 60_000 },
    async () => {
      const mount = tempDir('session-tmpfs-');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
      // Runs before tempDir's removal (onTestFinished hooks run last first); lazy, so
      // a file still open on the tmpfs cannot keep the mount point from being removed.
      onTestFinished(() => {
        execFileSync('umount', ['-l', mount]);
      });
      const dir = join(mount, 'sessions');
      const warnings: string[] = [];
      const session = createSessionManager({
        dir,
        logger: { warn: (_o, msg) => void warnings.push(msg ?? '') },
      });
      await session.registerVm('vm-base', 'zone-a', ['api']);
      await session.claimResources('port', () => [{ kind: 'port', id: '8010' }]);
      const filler = fill(mount);
      // Constructing a manager on a full disk never throws.
      const another = createSessionManager({ dir });
      expect(another.sessionId).not.toBe(session.sessionId);
      let faults = 0;
      const codes = new Set<string>();
      for (let i = 0; i < 110; i++) {
        const pad = 'y'.repeat(4096 + i * 37);
        const attempt =
          i % 10 === 9
            ? session.claimResources('port', () => [{ kind: 'port', id: `90${i}` }])
            : session.registerResource({ kind: 'item', id: `big-${i}`, metadata: { pad } });
        await attempt.then(
          () => {},
          (error: SessionError) => {
            faults++;
            codes.add(`${error.code}/${(error as { errno?: string }).errno}`);
          },
        );
        if (i % 10 === 4) expect(await session.registerVm(`vm-${i}`, 'z', [], { pad })).toBe(false);
        const stored = parseSessionRecord(readFileSync(session.sessionFile, 'utf8'));
        expect(stored.ok).toBe(true);
        const ids = stored.ok ? stored.value.resources.map((r) => r.id) : [];
        expect(ids).toEqual(session.getMyResourcesSync().map((r) => r.id));
        expect(ids).toEqual(['vm-base', '8010']);
        expect(readdirSync(join(dir, 'sessions')).filter((n) => n.includes('.tmp-'))).toEqual([]);
        expect(readdirSync(join(dir, 'claims')).filter((n) => n.includes('.tmp-'))).toEqual([]);
      }
      expect(faults).toBe(110);
      expect([...codes]).toEqual(['E_SESSION_WRITE_FAILED/ENOSPC']);
      expect(warnings.some((w) => w.includes('registerVm'))).toBe(true);
      rmSync(filler);
      await session.registerResource({ kind: 'item', id: 'after', metadata: { pad: 'z'.repeat(8000) } });
      expect(
        (await new FileSessionStore({ dir }).readRecord(session.sessionId))?.record.resources.map(
          (r) => r.id,
        ),
      ).toEqual(['vm-base', '8010', 'after']);
      expect(
        (await session.claimResources('port', () => [{ kind: 'port', id: '9999' }])).map((r) => r.id),
      ).toEqual(['9999']);
    },
  );
});

describe('a file size limit (prlimit --fsize)', () => {
  it('short writes then EFBIG: every failure whole and reported, nothing lost, no temp file left', {
    timeout: 60_000,
  }, async () => {
    const dir = freshDir('session-fsize-');
    mkdirSync(dir, { mode: 0o700 });
    const script = fileURLToPath(new URL('./fixtures/fsize-writer.ts', import.meta.url));
    const child = spawn(
      'prlimit',
      [
        '--fsize=2048',
        '--',
        process.execPath,
        '--conditions=@core/source',
        '--import',
        'tsx',
        script,
        dir,
        '60',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code, err).toBe(0);
    const summary = JSON.parse(out.trim().split('\n').at(-1) as string);
    expect(summary).toMatchObject({ faults: 60, torn: 0, lost: 0, temps: 0 });
    expect(summary.codes.sort()).toEqual(['E_SESSION_WRITE_FAILED/EFBIG', 'sync-false']);
    expect(summary.warned).toBeGreaterThanOrEqual(20);
  });
});
