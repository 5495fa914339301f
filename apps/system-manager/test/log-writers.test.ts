// The `file` destination with s6-log on PATH: each stream of a service is
// written by an s6-log process of its own, reading a pipe the manager holds
// but never reads. Real managers, services and writers; the writer is
// SIGKILLed mid-flood; a symlink is planted where the writer would open.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  isAlive,
  killTagged,
  logLines,
  type ManagerUnderTest,
  MISBEHAVING,
  misbehaving,
  runToEnd,
  startManager,
  tempDir,
  waitUntil,
} from './helpers.js';

const hasWriter = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v s6-log'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const managers: ManagerUnderTest[] = [];
const temps: { remove: () => void }[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) {
    if (m.child.exitCode === null && m.child.signalCode === null) {
      m.child.kill('SIGTERM');
      await m.exited;
    }
    m.remove();
  }
  await killTagged();
  for (const t of temps.splice(0)) t.remove();
});

async function manager(config: Record<string, unknown>) {
  const m = await startManager({ shutdown: { graceMs: 2_000 }, ...config });
  managers.push(m);
  await m.ready();
  return m;
}

function logsDir(): string {
  const t = tempDir('sm-writers-');
  temps.push(t);
  return path.join(t.dir, 'logs');
}

/** The files of a logdir, oldest first (archives by stamp, then current). */
function logdirFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  const archives = names.filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort();
  return [...archives, ...(names.includes('current') ? ['current'] : [])].map((n) => path.join(dir, n));
}

/** Every line of a logdir without its writer's stamp, oldest first. */
function linesOf(dir: string): string[] {
  const lines: string[] = [];
  for (const file of logdirFiles(dir)) {
    let text: string;
    try {
      // O_NOFOLLOW: a planted symlink is not read through here either.
      const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      continue; // rotated away between the listing and the read, or not a file
    }
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      expect(raw).toMatch(/^@[0-9a-f]{24} /);
      lines.push(raw.slice(26));
    }
  }
  return lines;
}

const numberOf = (line: string) => {
  const match = /^line (\d+) padding to make the line a realistic length for a log line$/.exec(line);
  return match ? Number(match[1]) : null;
};

/** GET /status, once more if the first attempt meets a keep-alive connection the server just closed. */
async function statusOf(m: ManagerUnderTest) {
  try {
    return await m.status();
  } catch {
    return await m.status();
  }
}

type WriterStatus = { stream: string; dir: string; pid: number | null; restarts: number };
async function writersOf(m: ManagerUnderTest, name: string): Promise<WriterStatus[]> {
  const logs = (await statusOf(m)).services.find((s) => s.name === name)?.logs as unknown as {
    writer: string;
    writers: WriterStatus[];
  };
  expect(logs.writer).toBe('s6-log');
  return logs.writers;
}

// Skipped where s6-log is missing, except under CI=true: there it must be installed (.ci/run does).
describe.skipIf(!hasWriter && process.env['CI'] !== 'true')(
  'log writers: s6-log per stream (real processes)',
  {
    timeout: 120_000,
  },
  () => {
    beforeAll(() => {
      expect(hasWriter, 's6-log is not on PATH: apt-get install s6').toBe(true);
    });

    it('200,000 lines: every one exactly once, in order, across rotations; private files; the manager reads none of it', async () => {
      const dir = logsDir();
      const COUNT = 200_000;
      const m = await manager({
        logs: { dir, maxFileBytes: 1024 * 1024, keepFiles: 100 },
        services: [misbehaving('writer', 'count', { env: { COUNT: String(COUNT) } })],
      });
      expect(logLines(m).find((e) => String(e['msg']).startsWith('service output:'))).toMatchObject({
        dir,
        writer: expect.stringMatching(/\/s6-log$/),
      });
      const stdout = path.join(dir, 'writer', 'stdout');
      const stderr = path.join(dir, 'writer', 'stderr');
      await waitUntil(
        () =>
          linesOf(stderr).includes('count done') &&
          linesOf(stdout)
            .at(-1)
            ?.startsWith(`line ${COUNT - 1} `) === true,
        60_000,
        'the writer to finish',
      );
      const numbers = linesOf(stdout).map(numberOf);
      expect(numbers).toHaveLength(COUNT);
      expect(numbers.every((n, i) => n === i)).toBe(true);
      // ~14 MB in files of about 1 MiB, none deleted (keepFiles 100).
      expect(logdirFiles(stdout).length).toBeGreaterThan(10);
      // Private: directories 0700, files without any bit for group or others.
      for (const d of [dir, path.join(dir, 'writer'), stdout, stderr])
        expect(lstatSync(d).mode & 0o777, d).toBe(0o700);
      for (const file of [...logdirFiles(stdout), ...logdirFiles(stderr)])
        expect(lstatSync(file).mode & 0o077, file).toBe(0);
      const writers = await writersOf(m, 'writer');
      expect(writers.map((w) => w.stream)).toEqual(['stdout', 'stderr']);
      for (const w of writers) {
        expect(w.restarts).toBe(0);
        expect(isAlive(w.pid as number)).toBe(true);
      }
      // `logs -n` reads the files back: the last lines, stderr's in its place.
      expect(logLines(m).some((e) => String(e['msg']).startsWith('line '))).toBe(false);
    });

    it('rotation by size keeps the configured count; the newest lines are all there', async () => {
      const dir = logsDir();
      const m = await manager({
        logs: { dir, maxFileBytes: 64 * 1024, keepFiles: 3 },
        services: [misbehaving('writer', 'count', { env: { COUNT: '30000' } })],
      });
      const stdout = path.join(dir, 'writer', 'stdout');
      await waitUntil(
        () => linesOf(stdout).at(-1)?.startsWith('line 29999 ') === true,
        30_000,
        'the writer to finish',
      );
      const archives = logdirFiles(stdout).filter((f) => !f.endsWith('current'));
      expect(archives).toHaveLength(3);
      // What is kept is a run of the newest lines, whole and in order.
      const numbers = linesOf(stdout).map(numberOf);
      const first = numbers[0] as number;
      expect(first).toBeGreaterThan(0);
      expect(numbers.every((n, i) => n === first + i)).toBe(true);
      for (const f of archives) expect(lstatSync(f).size).toBeLessThan(64 * 1024 + 16 * 1024);
      expect(m.child.exitCode).toBeNull();
    });

    it('a writer SIGKILLed mid-flood is noticed, logged, counted and replaced on the same pipe; what is lost is one read of it at most', async () => {
      const dir = logsDir();
      const COUNT = 400_000;
      const m = await manager({
        logs: { dir, maxFileBytes: 4 * 1024 * 1024, keepFiles: 100 },
        services: [misbehaving('writer', 'count', { env: { COUNT: String(COUNT) } })],
      });
      const stdout = path.join(dir, 'writer', 'stdout');
      const [before] = await writersOf(m, 'writer');
      // Mid-flood: some lines written, far from all.
      await waitUntil(() => logdirFiles(stdout).length >= 2, 30_000, 'the flood to be under way');
      const servicePid = (await statusOf(m)).services[0]?.pid as number;
      process.kill(before?.pid as number, 'SIGKILL');
      await m.waitForLog((e) => String(e['msg']).startsWith('the log writer of writer stdout exited'));
      await waitUntil(
        () =>
          linesOf(stdout)
            .at(-1)
            ?.startsWith(`line ${COUNT - 1} `) === true,
        60_000,
        'the flood to end in the files',
      );
      const [after] = await writersOf(m, 'writer');
      expect(after?.restarts).toBe(1);
      expect(after?.pid).not.toBe(before?.pid);
      // The service kept its pipe: same process, never restarted.
      expect((await statusOf(m)).services[0]).toMatchObject({ pid: servicePid, restarts: 0 });
      const lines = linesOf(stdout);
      const numbers = lines.map(numberOf).filter((n): n is number => n !== null);
      // At most one fragment: the end of the line the killed writer had read the start of.
      expect(lines.length - numbers.length).toBeLessThanOrEqual(1);
      // In order, none twice; the missing ones one run, no longer than one read of the writer (8 KiB).
      for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1] as number);
      const missing = COUNT - numbers.length;
      // Lines near the kill are 70 or 71 bytes: the lost bytes (one read, plus the start of the line
      // the writer held, plus the start of the one that the next writer got the rest of) span at most this many.
      const lineBytes = 'line 12345 padding to make the line a realistic length for a log line\n'.length;
      expect(missing, `${missing} lines lost`).toBeLessThanOrEqual(Math.ceil(8192 / lineBytes) + 2);
      const gaps = numbers.filter((n, i) => i > 0 && n !== (numbers[i - 1] as number) + 1);
      expect(gaps.length).toBeLessThanOrEqual(1);
    });

    it("a symlink planted at the writer's current file is removed, never followed", async () => {
      const dir = logsDir();
      const stdout = path.join(dir, 'svc', 'stdout');
      mkdirSync(stdout, { recursive: true, mode: 0o700 });
      const victim = path.join(path.dirname(dir), 'victim');
      writeFileSync(victim, 'untouched\n');
      symlinkSync(victim, path.join(stdout, 'current'));
      const m = await manager({
        logs: { dir },
        services: [misbehaving('svc', 'count', { env: { COUNT: '1000' } })],
      });
      await waitUntil(() => linesOf(stdout).length === 1000, 10_000, 'the lines in a real file');
      expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
      expect(lstatSync(path.join(stdout, 'current')).isFile()).toBe(true);
      // Removed before the writer started: not kept as an archive either.
      expect(readdirSync(stdout).filter((n) => n.startsWith('@'))).toEqual([]);
      expect(
        logLines(m).some(
          (e) => e['msg'] === `removed a symlink planted at ${path.join(stdout, 'current')} (not followed)`,
        ),
      ).toBe(true);
    });

    it('at shutdown the writers write what is left and exit; error reports and describe read the files', async () => {
      const dir = logsDir();
      const m = await manager({
        logs: { dir },
        services: [
          misbehaving('svc', 'count', { env: { COUNT: '50000' } }),
          misbehaving('crashy', 'crash-after', {
            port: 'frontend',
            env: { CRASH_AFTER_MS: '300' },
            restart: 'never',
          }),
        ],
        supervision: { onServiceFailed: 'keep-running' },
      });
      const exited = await m.waitForLog((e) => e['msg'] === 'service exited' && e['service'] === 'crashy');
      expect(exited['output']).toEqual(expect.arrayContaining(['crashing on purpose']));
      // describe and logs read the files back, both streams in the order they were written.
      await waitUntil(() => linesOf(path.join(dir, 'svc', 'stdout')).length === 50_000, 20_000, 'all lines');
      const described = await runToEnd(['describe', 'svc', '--json'], m.env);
      // The last stdout line is among the last lines. (stderr's "count done", written after it, may come
      // before it there: the order between streams is the writers' read order, and under a flood the stdout
      // pipe holds up to 64 KiB not yet read.)
      expect(JSON.parse(described.stdout).lastLines).toContain(
        'line 49999 padding to make the line a realistic length for a log line',
      );
      const logs = await runToEnd(['logs', 'crashy', '-n', '2'], m.env);
      expect(logs.stdout.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(/^misbehaving-service \d+ listening/),
        'crashing on purpose',
      ]);
      const writers = [...(await writersOf(m, 'svc')), ...(await writersOf(m, 'crashy'))];
      m.child.kill('SIGTERM');
      expect((await m.exited).code).toBe(0);
      for (const w of writers) expect(isAlive(w.pid as number)).toBe(false);
      const numbers = linesOf(path.join(dir, 'svc', 'stdout')).map(numberOf);
      expect(numbers.every((n, i) => n === i)).toBe(true);
      expect(numbers).toHaveLength(50_000);
      // Finished cleanly: s6-log marks a file it closed itself with the owner's x bit.
      expect(lstatSync(path.join(dir, 'svc', 'stdout', 'current')).mode & 0o100).toBe(0o100);
    });

    it('a process that keeps the pipe after its service is gone: the writer is stopped 5 s later, checked to be ours', async () => {
      const dir = logsDir();
      // A grandchild in a session of its own holds the service's stdout and stderr past the service's stop.
      const m = await manager({
        logs: { dir },
        services: [
          {
            name: 'leaky',
            command: '/bin/sh',
            args: ['-c', `setsid sleep 60 & exec "${process.execPath}" "${MISBEHAVING}"`],
            port: 'main_api',
            env: { MODE: '' },
          },
        ],
      });
      const writers = await writersOf(m, 'leaky');
      const stoppedAt = Date.now();
      m.child.kill('SIGTERM');
      expect((await m.exited).code).toBe(0);
      // Waited for the drain, then stopped them: no longer than the two timeouts and the service's stop.
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(5_000);
      expect(Date.now() - stoppedAt).toBeLessThan(20_000);
      expect(
        logLines(m).filter((e) => String(e['msg']).startsWith('the log writer did not finish within 5 s')),
      ).toHaveLength(2);
      for (const w of writers) expect(isAlive(w.pid as number)).toBe(false);
    });
  },
);
