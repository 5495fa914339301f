// Where service output goes by default: a rotating file per service (every
// line kept, whole), or straight into journald's stream socket under systemd.
// Real managers, real services, a real Unix socket standing in for journald.
// The file tests here run without s6-log on PATH: the manager writes the
// files itself (./log-writers.test.ts has the s6-log writers).
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  killTagged,
  logLines,
  type ManagerUnderTest,
  misbehaving,
  startManager,
  tempDir,
  waitUntil,
} from './helpers.js';

/** An empty PATH: no s6-log, so the manager writes the files itself (node and services run by absolute path). */
const noWriterBin = tempDir('sm-no-writer-');
afterAll(() => noWriterBin.remove());
const WITHOUT_WRITER = { PATH: noWriterBin.dir };

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) {
    if (m.child.exitCode === null && m.child.signalCode === null) {
      m.child.kill('SIGTERM');
      await m.exited;
    }
    m.remove();
  }
  await killTagged();
});

async function manager(config: Record<string, unknown>, env: Record<string, string> = {}) {
  const m = await startManager({ shutdown: { graceMs: 2_000 }, ...config }, env);
  managers.push(m);
  await m.ready();
  return m;
}

/** Every file of `<dir>/<name>.log*`, oldest first (`.N` … `.1`, then the current one). */
function logFiles(dir: string, name: string): string[] {
  const rotated = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.log.`))
    .sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()));
  // Right after a rotation the current file does not exist until the next write.
  const current = existsSync(path.join(dir, `${name}.log`)) ? [`${name}.log`] : [];
  return [...rotated, ...current].map((f) => path.join(dir, f));
}

/** The whole output in a service's log files (nothing if none exists yet). */
function allOutput(dir: string, name: string): string {
  if (!existsSync(dir)) return '';
  // A file may be renamed between listing and reading (a rotation): read what is there.
  return logFiles(dir, name)
    .map((file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    })
    .join('');
}

describe('service output (real processes)', { timeout: 90_000 }, () => {
  it('by default a file per service in the state directory: 200,000 lines, every one kept, whole, across rotations', async () => {
    const state = tempDir('sm-logs-');
    const COUNT = 200_000;
    const m = await manager(
      {
        logs: { maxFileBytes: 1024 * 1024, keepFiles: 100 },
        services: [misbehaving('writer', 'count', { env: { COUNT: String(COUNT) } })],
      },
      { XDG_STATE_HOME: state.dir, ...WITHOUT_WRITER },
    );
    const dir = path.join(state.dir, 'system-manager', 'logs');
    // Said once, with what to install.
    const said = logLines(m).filter((e) => String(e['msg']).startsWith('service output:'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ dir, writer: 'manager', level: 40 });
    expect(String(said[0]?.['msg'])).toContain('apt-get install s6');
    const writer = async () => (await m.status()).services.find((s) => s.name === 'writer');
    // Done when the last line and stderr's "count done" are both in (two pipes: either may come last).
    await waitUntil(
      () => {
        const all = allOutput(dir, 'writer');
        return all.includes('count done') && all.includes(`line ${COUNT - 1} `);
      },
      60_000,
      'the writer to finish',
    );
    const files = logFiles(dir, 'writer');
    expect(files.length).toBeGreaterThan(5); // ~13 MB in files of 1 MiB: rotated, none deleted (keepFiles 100)
    const seen = new Uint8Array(COUNT);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // Rotation happens at a line boundary: no file starts or ends inside a line.
      if (text.length > 0) expect(text.endsWith('\n')).toBe(true);
      for (const line of text.split('\n')) {
        const match = /^line (\d+) padding/.exec(line);
        if (match) seen[Number(match[1])] = (seen[Number(match[1])] as number) + 1;
      }
    }
    expect(seen.every((n) => n === 1)).toBe(true);
    const status = (await writer())?.logs;
    expect(status).toMatchObject({
      destination: 'file',
      writer: 'manager',
      file: path.join(dir, 'writer.log'),
      lostBytes: 0,
    });
    expect((status as { rotations: number }).rotations).toBe(
      files.filter((f) => /\.log\.\d+$/.test(f)).length,
    );
    // The manager's own log carries none of it.
    expect(logLines(m).some((e) => String(e['msg']).startsWith('line '))).toBe(false);
  });

  it('keeps keepFiles rotated files, and the tail of the file for error reports', async () => {
    const state = tempDir('sm-logs-');
    const m = await manager(
      {
        logs: { dir: state.dir, maxFileBytes: 64 * 1024, keepFiles: 2 },
        services: [
          misbehaving('writer', 'count', { env: { COUNT: '20000' } }),
          misbehaving('crashy', 'crash-after', {
            port: 'frontend',
            env: { CRASH_AFTER_MS: '300' },
            restart: 'never',
          }),
        ],
        supervision: { onServiceFailed: 'keep-running' },
      },
      WITHOUT_WRITER,
    );
    await waitUntil(
      () => {
        // Only the last stdout line: stderr's "count done" may come early and be rotated away (keepFiles 2).
        return allOutput(state.dir, 'writer').includes('line 19999 ');
      },
      30_000,
      'the writer to finish',
    );
    // ~1.5 MB in files of 64 KiB: rotated many times, two kept (the current file may not exist yet).
    expect(
      readdirSync(state.dir)
        .filter((f) => /^writer\.log\.\d+$/.test(f))
        .sort(),
    ).toEqual(['writer.log.1', 'writer.log.2']);
    const exited = await m.waitForLog((e) => e['msg'] === 'service exited' && e['service'] === 'crashy');
    expect(exited['output']).toEqual(expect.arrayContaining(['crashing on purpose']));
  });

  it('a symlink planted at the log file is not followed: the output is counted as lost, the manager keeps running', async () => {
    const state = tempDir('sm-logs-');
    const target = path.join(state.dir, 'victim');
    symlinkSync(target, path.join(state.dir, 'svc.log'));
    const m = await manager({ logs: { dir: state.dir }, services: [misbehaving('svc', '')] }, WITHOUT_WRITER);
    await m.waitForLog((e) => e['msg'] === 'cannot write a service log file: output lost until it can');
    expect(existsSync(target)).toBe(false);
    const logs = (await m.status()).services[0]?.logs as { lostBytes: number };
    expect(logs.lostBytes).toBeGreaterThan(0);
    expect(m.child.exitCode).toBeNull();
  });

  it('under systemd ($JOURNAL_STREAM) each stream is connected straight to the journal socket, named by the service', async () => {
    const tmp = tempDir('sm-journal-');
    const socket = path.join(tmp.dir, 'stdout');
    const streams: { header: string; body: string; closed: boolean }[] = [];
    const journal = net.createServer((conn) => {
      const entry = { header: '', body: '', closed: false };
      conn.on('close', () => {
        entry.closed = true;
      });
      streams.push(entry);
      let text = '';
      conn.on('data', (chunk) => {
        text += chunk.toString('utf8');
        const lines = text.split('\n');
        entry.header = lines.slice(0, 7).join('\n');
        entry.body = lines.slice(7).join('\n');
      });
      conn.on('error', () => {});
    });
    await new Promise<void>((resolve) => journal.listen(socket, resolve));
    try {
      const m = await manager(
        {
          logs: { journalSocket: socket },
          services: [misbehaving('api', 'crash-after', { env: { CRASH_AFTER_MS: '400' }, restart: 'never' })],
          supervision: { onServiceFailed: 'keep-running' },
        },
        { JOURNAL_STREAM: '8:12345' },
      );
      await m.waitForLog((e) => e['msg'] === 'service exited' && e['service'] === 'api');
      await waitUntil(
        () => streams.some((s) => s.body.includes('crashing on purpose')),
        5_000,
        'stderr in the journal',
      );
      // identifier, unit id, priority (6 stdout, 4 stderr), level prefix, syslog, kmsg, console.
      const headers = streams.map((s) => s.header).sort();
      expect(headers).toEqual(['api\n\n4\n1\n0\n0\n0', 'api\n\n6\n1\n0\n0\n0']);
      const stderr = streams.find((s) => s.header.startsWith('api\n\n4'));
      expect(stderr?.body).toMatch(/misbehaving-service \d+ listening/);
      expect((await m.status()).services[0]?.logs).toEqual({ destination: 'journald', identifier: 'api' });
      // Nothing of it passed through the manager's log, and the manager kept no copy of the
      // sockets: with the service gone, the journal sees both streams closed.
      expect(logLines(m).some((e) => e['stream'] !== undefined)).toBe(false);
      await waitUntil(() => streams.every((s) => s.closed), 5_000, 'both journal streams closed');
      expect(m.child.exitCode).toBeNull();
    } finally {
      await new Promise((resolve) => journal.close(resolve));
    }
  });

  it('logs.destination "journald" without the socket is a config error (exit 78), named', async () => {
    const m = await startManager({
      logs: { destination: 'journald', journalSocket: '/nonexistent/journal' },
      services: [misbehaving('svc', '')],
    });
    managers.push(m);
    const { code } = await m.exited;
    expect(code).toBe(78);
    expect(m.stderr()).toMatch(/logs\.destination is "journald" but \/nonexistent\/journal is not a socket/);
  });
});
