import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts, holdPort } from './sockets.js';

const fixture = fileURLToPath(new URL('./fixtures/resolve-reserved.ts', import.meta.url));

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
  stderr: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

function start(dir: string, preferred: number, fallbacks: number[]): Child {
  const proc = spawn(
    process.execPath,
    ['--conditions=@core/source', '--import', 'tsx', fixture, String(preferred), JSON.stringify(fallbacks)],
    { env: { ...process.env, CORE_SESSION_DIR: dir }, stdio: 'pipe' },
  );
  const stderr: string[] = [];
  proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  cleanups.push(async () => {
    if (proc.exitCode === null) {
      proc.stdin.end();
      proc.kill();
    }
  });
  return { proc, lines: createInterface({ input: proc.stdout })[Symbol.asyncIterator](), stderr };
}

async function nextLine(child: Child): Promise<string> {
  const { value, done } = await child.lines.next();
  if (done) throw new Error(`child ended early: ${child.stderr.join('')}`);
  return value;
}

describe('two processes resolving at once', () => {
  it('get different ports for the same busy preferred port (reservation through the real @core/session)', {
    timeout: 40_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ports-two-processes-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [preferred, ...fallbacks] = await freePorts(4);
    const held = await holdPort(preferred!);
    cleanups.push(held.close);

    const children = [start(dir, preferred!, fallbacks), start(dir, preferred!, fallbacks)];
    // Barrier: both are loaded and ready before either resolves.
    expect(await Promise.all(children.map(nextLine))).toEqual(['ready', 'ready']);
    for (const c of children) c.proc.stdin.write('go\n');
    const results = (await Promise.all(children.map(nextLine))).map((line) => JSON.parse(line));
    for (const c of children) c.proc.stdin.end();

    for (const result of results) {
      expect(result.error).toBeUndefined();
      expect(result.report.reserved).toBe(true);
      expect(result.report.ports.main_api.reason).toBe('fallback');
      expect(result.report.ports.main_api.attempts[0]).toEqual({
        port: preferred,
        source: 'preferred',
        outcome: 'busy',
      });
      expect(result.backendPort).toBe(result.report.ports.main_api.port);
    }
    const chosen = results.map((r) => r.report.ports.main_api.port as number);
    // Without reservation both would take the first free fallback.
    expect(chosen[0]).not.toBe(chosen[1]);
    expect(chosen.sort()).toEqual(fallbacks.slice(0, 2).sort());
    // The second one to claim saw the first one's reservation.
    const outcomes = results.flatMap((r) =>
      r.report.ports.main_api.attempts.map((a: { outcome: string }) => a.outcome),
    );
    expect(outcomes).toContain('reserved-by-other-session');
  });
});
