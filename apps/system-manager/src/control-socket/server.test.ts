import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { socketPathOf } from './location.js';
import { overviewSchema } from './overview.js';
import { parseResponse } from './protocol.js';
import { type ControlActions, type ControlSocket, startControlSocket } from './server.js';

const silent = pino({ level: 'silent' });
const open: { socket: ControlSocket; dir: string }[] = [];
afterEach(async () => {
  for (const { socket, dir } of open.splice(0)) {
    await socket.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Actions that record what they were asked (the protocol is under test here, not the services). */
function recording() {
  const calls: string[] = [];
  const actions: ControlActions = {
    restart: async (services) => {
      calls.push(`restart ${services.join(',')}`);
      return [];
    },
    stop: async () => [],
    start: async () => [],
    signal: () => null,
    reload: async () => ({}),
    describe: (name) => ({ name }),
    overview: () => {
      calls.push('overview');
      return { at: 1, services: [], caches: {} };
    },
    logs: async () => [{ service: 'api', text: 'hello' }],
    follow: () => () => {},
  };
  return { calls, actions };
}

async function serve(actions: ControlActions, group?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sm-server-'));
  const runtime = path.join(dir, 'run');
  const socket = await startControlSocket(
    runtime,
    socketPathOf(runtime, 'test-session'),
    actions,
    silent,
    group,
  );
  open.push({ socket, dir });
  return socket.path;
}

function exchange(socket: string, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.on('data', (d) => {
      out += d.toString();
    });
    c.on('error', reject);
    c.on('close', () => resolve(out));
    c.write(raw);
  });
}

const by = { user: 'tester', pid: 1 };

describe('the control socket server', () => {
  it('is a 0600 socket, answers a valid request and removes its file on close', async () => {
    const { calls, actions } = recording();
    const socket = await serve(actions);
    expect(lstatSync(socket).mode & 0o777).toBe(0o600);
    const answer = parseResponse(
      await exchange(socket, `${JSON.stringify({ v: 1, by, command: 'restart', services: ['api'] })}\n`),
    );
    expect(answer).toEqual({ v: 1, ok: true, result: [] });
    expect(calls).toEqual(['restart api']);
    await open[0]?.socket.close();
    expect(() => lstatSync(socket)).toThrow(/ENOENT/);
  });

  it('with a socket group: 0660 of that group', async () => {
    if (process.getuid?.() !== 0) return expect(process.getuid?.()).not.toBe(0); // chown to any gid needs root
    const socket = await serve(recording().actions, 4242);
    expect(lstatSync(socket)).toMatchObject({ gid: 4242 });
    expect(lstatSync(socket).mode & 0o777).toBe(0o660);
  });

  it('answers overview (read-only: every service and its cache counters) in a shape the CLI accepts', async () => {
    const { calls, actions } = recording();
    const socket = await serve(actions);
    const answer = parseResponse(
      await exchange(socket, `${JSON.stringify({ v: 1, by, command: 'overview' })}\n`),
    );
    expect(answer).toMatchObject({ ok: true });
    expect(overviewSchema.safeParse((answer as { result: unknown }).result).success).toBe(true);
    expect(calls).toEqual(['overview']);
  });

  it('refuses what is not a valid request, names why, and does nothing', async () => {
    const { calls, actions } = recording();
    const socket = await serve(actions);
    const cases: [string, RegExp][] = [
      ['not json\n', /not JSON/],
      [`${JSON.stringify({ v: 2, by, command: 'ping' })}\n`, /protocol version 2/],
      [`${JSON.stringify({ v: 1, by, command: 'rm -rf' })}\n`, /invalid request: command/],
      [`${JSON.stringify({ v: 1, by, command: 'restart', services: [] })}\n`, /invalid request: services/],
      [
        `${JSON.stringify({ v: 1, by, command: 'signal', signal: 'SIGSEGV', service: 'api' })}\n`,
        /invalid request: signal/,
      ],
      [
        `${JSON.stringify({ v: 1, by, command: 'logs', service: null, lines: 1e9, follow: false })}\n`,
        /invalid request: lines/,
      ],
      [`${'x'.repeat(20_000)}\n`, /at most 16384 bytes/],
    ];
    for (const [raw, why] of cases) {
      const answer = parseResponse(await exchange(socket, raw));
      expect(answer, raw.slice(0, 40)).toMatchObject({ ok: false, error: { code: 'E_CONTROL_PROTOCOL' } });
      expect((answer as { error: { message: string } }).error.message).toMatch(why);
    }
    expect(calls).toEqual([]);
    // Still answering.
    expect(
      parseResponse(await exchange(socket, `${JSON.stringify({ v: 1, by, command: 'ping' })}\n`)),
    ).toMatchObject({ ok: true });
  });
});
