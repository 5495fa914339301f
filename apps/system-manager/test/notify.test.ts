// systemd readiness end to end: a real Unix datagram socket as $NOTIFY_SOCKET
// receives READY=1 only once the services answer their health checks, and
// STOPPING=1 at shutdown (after which the manager exits 0).
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, killTagged, type ManagerUnderTest, misbehaving, startManager, tempDir } from './helpers.js';
import { type NotifySocket, openNotifySocket } from './notify-socket.js';

const managers: ManagerUnderTest[] = [];
const sockets: NotifySocket[] = [];
const dirs: (() => void)[] = [];
afterEach(async () => {
  await killTagged();
  for (const s of sockets.splice(0)) await s.close();
  for (const m of managers.splice(0)) m.remove();
  for (const d of dirs.splice(0)) d();
});

describe('sd_notify readiness (real datagram socket)', { timeout: 60_000 }, () => {
  it('READY=1 only after the services answer; STATUS on each phase; RELOADING=1/READY=1 around a reload; STOPPING=1 at shutdown', async () => {
    const tmp = tempDir('sm-notify-');
    dirs.push(tmp.remove);
    const socket = await openNotifySocket(tmp.dir);
    sockets.push(socket);
    const m = await startManager(
      { services: [misbehaving('slow', 'slow-start', { env: { START_DELAY_MS: '1500' } })] },
      { NOTIFY_SOCKET: socket.path },
    );
    managers.push(m);
    const started = await m.waitForLog((e) => e['msg'] === 'service started');
    const port = Number(started['port']);
    await socket.waitFor('STATUS=waiting for services to become healthy');
    // The service does not listen yet: no READY=1 may have been sent.
    await expect(httpGet(port, '/health')).rejects.toThrow();
    expect(socket.messages.some((msg) => msg.split('\n').includes('READY=1'))).toBe(false);

    const ready = await socket.waitFor('READY=1');
    expect((await httpGet(port, '/health')).status).toBe(200);
    const phases = socket.messages.slice(0, ready).join('\n');
    expect(phases).toContain('STATUS=reaping stale sessions');
    expect(phases).toContain('STATUS=resolving ports');

    // A SIGHUP reload is bracketed by RELOADING=1 … READY=1.
    m.child.kill('SIGHUP');
    const reloading = await socket.waitFor('RELOADING=1', 10_000, ready + 1);
    const readyAgain = await socket.waitFor('READY=1', 10_000, reloading + 1);
    await m.waitForLog((e) => e['msg'] === 'config reloaded');

    m.child.kill('SIGTERM');
    await socket.waitFor('STOPPING=1', 10_000, readyAgain + 1);
    expect((await m.exited).code).toBe(0);
  });
});
