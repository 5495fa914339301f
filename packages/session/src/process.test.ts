import { spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { isProcessAlive, readProcessStartTime } from './process.js';

describe('readProcessStartTime / isProcessAlive', () => {
  it('identify this process', () => {
    const start = readProcessStartTime(process.pid);
    expect(start).toMatch(/\S/);
    expect(readProcessStartTime(process.pid)).toBe(start);
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(process.pid, start)).toBe(true);
    expect(isProcessAlive(process.pid, `${start}0`)).toBe(false);
  });

  it.runIf(process.platform === 'linux')(
    'parse /proc/<pid>/stat after the last ")" when the command name has spaces and parens',
    async () => {
      const dir = tempDir('comm-');
      const odd = join(dir, 'a b) (c');
      symlinkSync(process.execPath, odd);
      const child = spawn(odd, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      try {
        await new Promise((resolve) => child.once('spawn', resolve));
        const start = readProcessStartTime(child.pid!);
        // A naive split on spaces lands two fields off (num_threads / itrealvalue), never >= our start time.
        expect(start).toMatch(/^\d+$/);
        expect(Number(start)).toBeGreaterThanOrEqual(Number(readProcessStartTime(process.pid)));
        expect(isProcessAlive(child.pid!, start)).toBe(true);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      expect(isProcessAlive(child.pid!)).toBe(false);
      expect(readProcessStartTime(child.pid!)).toBeNull();
    },
  );

  it('reject a pid that is not a positive integer', () => {
    expect(() => readProcessStartTime(0)).toThrow(TypeError);
    expect(() => isProcessAlive(-1)).toThrow(/positive integer/);
    expect(() => isProcessAlive(1.5)).toThrow(TypeError);
  });
});
