import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type HeldPort, holdPort } from './sockets.js';

const fixture = fileURLToPath(new URL('./fixtures/resolve-reserved.ts', import.meta.url));

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
  stderr: string[];
}

/**
 * Where the test's ports come from: 10000–19999, cut below the kernel's
 * ephemeral range when that starts lower. The kernel hands out ephemeral ports
 * for every bind(0) and outgoing connection of any process (other suites under
 * turbo ask for many), and the other suites bind 20000+ (freeRun, the
 * system-manager's dynamic range) and fixed ports below 10000.
 */
function quietBand(): [from: number, to: number] {
  let ephemeralFrom = 49152; // IANA's, macOS's and Windows' default
  try {
    const linux = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    if (Number.isInteger(linux)) ephemeralFrom = linux;
  } catch {
    // not Linux: keep the default
  }
  // A range starting below 10100 leaves no quiet band; holding the ports still makes them ours.
  return [10000, Math.max(10100, Math.min(19999, ephemeralFrom - 1))];
}

/**
 * Holds `count` consecutive ports of the quiet band, so until the test lets go
 * of one it is known to be free of anyone else.
 */
async function holdRun(count: number): Promise<HeldPort[]> {
  const [from, to] = quietBand();
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = from + Math.floor(Math.random() * (to - from + 2 - count));
    const held: HeldPort[] = [];
    try {
      for (let port = base; port < base + count; port++) held.push(await holdPort(port));
      return held;
    } catch {
      await Promise.all(held.map((h) => h.close())); // one was taken: try elsewhere
    }
  }
  throw new Error(`no ${count} consecutive free ports in ${from}–${to}`);
}

function start(dir: string, preferred: number, fallbacks: number[]): Child {
  const proc = spawn(
    process.execPath,
    ['--conditions=@core/source', '--import', 'tsx', fixture, String(preferred), JSON.stringify(fallbacks)],
    { env: { ...process.env, CORE_SESSION_DIR: dir }, stdio: 'pipe' },
  );
  const stderr: string[] = [];
  proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  // Waits for the exit, pass or fail: the child writes its session files in `dir` until then.
  onTestFinished(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.stdin.end(); // the fixture exits once stdin closes, releasing its claims
    const stuck = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(stuck);
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
    // onTestFinished hooks run last-registered first: the children are gone before this.
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const held = await holdRun(4);
    onTestFinished(async () => {
      await Promise.all(held.map((h) => h.close()));
    });
    // The preferred port stays held (busy) throughout; the fallbacks are
    // released just before the children probe them.
    const [preferred, ...fallbacks] = held.map((h) => h.port) as [number, ...number[]];

    const children = [start(dir, preferred, fallbacks), start(dir, preferred, fallbacks)];
    // Barrier: both are loaded and ready before either resolves.
    expect(await Promise.all(children.map(nextLine))).toEqual(['ready', 'ready']);
    await Promise.all(held.slice(1).map((h) => h.close()));
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
    expect(chosen.sort((a, b) => a - b)).toEqual(fallbacks.slice(0, 2));
    // The second one to claim saw the first one's reservation.
    const outcomes = results.flatMap((r) =>
      r.report.ports.main_api.attempts.map((a: { outcome: string }) => a.outcome),
    );
    expect(outcomes).toContain('reserved-by-other-session');
  });
});
