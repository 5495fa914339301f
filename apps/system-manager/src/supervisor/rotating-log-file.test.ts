import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { RotatingLogFile } from './rotating-log-file.js';

function write(file: RotatingLogFile, chunks: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    file.on('error', reject);
    for (const chunk of chunks) file.write(chunk);
    file.end(resolve);
  });
}

describe('RotatingLogFile', () => {
  it('rotates at a line boundary before a file passes its limit, keeps keepFiles, loses nothing in between', async () => {
    const { dir } = tempDir('sm-rotate-');
    const errors: Error[] = [];
    const file = new RotatingLogFile(path.join(dir, 'svc.log'), { maxFileBytes: 100, keepFiles: 3 }, (e) =>
      errors.push(e),
    );
    // 40 lines of 10 bytes in chunks of 7 lines: the limit falls inside chunks.
    const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`);
    const chunks: string[] = [];
    for (let i = 0; i < lines.length; i += 7) chunks.push(lines.slice(i, i + 7).join(''));
    await write(file, chunks);
    expect(errors).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['svc.log', 'svc.log.1', 'svc.log.2', 'svc.log.3']);
    const kept = ['svc.log.3', 'svc.log.2', 'svc.log.1', 'svc.log'].map((f) =>
      readFileSync(path.join(dir, f), 'utf8'),
    );
    for (const text of kept) {
      expect(text.length).toBeLessThanOrEqual(100);
      expect(text.endsWith('\n')).toBe(true);
    }
    // The newest 40 - 10 × (rotations - 3) lines, in order, each once.
    expect(kept.join('')).toBe(lines.slice(lines.length - kept.join('').length / 10).join(''));
    expect(file.counters()).toMatchObject({ bytes: 400, rotations: 3, lostBytes: 0 });
  });

  it('a line longer than the limit gets a file of its own, whole', async () => {
    const { dir } = tempDir('sm-rotate-');
    const file = new RotatingLogFile(path.join(dir, 'svc.log'), { maxFileBytes: 10, keepFiles: 5 }, () => {});
    await write(file, ['short\n', `${'x'.repeat(25)}\n`, 'end\n']);
    const files = readdirSync(dir)
      .sort()
      .reverse()
      .map((f) => readFileSync(path.join(dir, f), 'utf8'));
    expect(files).toEqual(['short\n', `${'x'.repeat(25)}\n`, 'end\n']);
  });

  it('a symlink planted at the file is not followed: the bytes are counted as lost and reported', async () => {
    const { dir } = tempDir('sm-rotate-');
    symlinkSync(path.join(dir, 'victim'), path.join(dir, 'svc.log'));
    const errors: Error[] = [];
    const file = new RotatingLogFile(path.join(dir, 'svc.log'), { maxFileBytes: 1_000, keepFiles: 1 }, (e) =>
      errors.push(e),
    );
    await write(file, ['secret\n']);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ELOOP');
    expect(file.counters().lostBytes).toBe(7);
    expect(readdirSync(dir)).toEqual(['svc.log']);
  });
});
