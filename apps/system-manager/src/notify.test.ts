import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { type NotifySocket, openNotifySocket } from '../test/notify-socket.js';
import { createNotifier, watchdogIntervalMs } from './notify.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listener(): Promise<NotifySocket> {
  const tmp = tempDir('sm-notify-');
  cleanups.push(tmp.remove);
  const socket = await openNotifySocket(tmp.dir);
  cleanups.push(() => socket.close());
  return socket;
}

describe('createNotifier', () => {
  it('is a no-op without $NOTIFY_SOCKET', async () => {
    const n = createNotifier({});
    expect(n.enabled).toBe(false);
    n.ready();
    n.stopping();
    await n.flush();
  });

  it('sends READY=1, STATUS=, RELOADING=1 and STOPPING=1 in order to a real datagram socket', async () => {
    const socket = await listener();
    const n = createNotifier({ NOTIFY_SOCKET: socket.path });
    cleanups.push(() => n.close());
    n.status('starting 2 services');
    n.ready();
    n.reloading();
    n.ready();
    n.stopping();
    await n.flush();
    const stopping = await socket.waitFor('STOPPING=1');
    expect(socket.messages[0]).toBe('STATUS=starting 2 services');
    const ready = await socket.waitFor('READY=1');
    const reloading = await socket.waitFor('RELOADING=1');
    const readyAgain = await socket.waitFor('READY=1', 1000, reloading + 1);
    expect(ready).toBeLessThan(reloading);
    expect(readyAgain).toBeLessThan(stopping);
  });

  it('keeps STATUS= to one line, so a newline in a service name cannot smuggle READY=1', async () => {
    const socket = await listener();
    const n = createNotifier({ NOTIFY_SOCKET: socket.path });
    n.status('waiting for evil\nREADY=1');
    await n.flush();
    await socket.waitFor('STATUS=waiting for evil READY=1');
    expect(socket.messages.some((m) => m.split('\n').includes('READY=1'))).toBe(false);
  });

  it('sends WATCHDOG=1 at half of $WATCHDOG_USEC, only for the pid in $WATCHDOG_PID', async () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '2000000' })).toBe(1000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' }, 2)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' })).toBeNull();
    const socket = await listener();
    const n = createNotifier({
      NOTIFY_SOCKET: socket.path,
      WATCHDOG_USEC: '200000',
      WATCHDOG_PID: String(process.pid),
    });
    cleanups.push(() => n.close());
    const first = await socket.waitFor('WATCHDOG=1', 5000);
    await socket.waitFor('WATCHDOG=1', 5000, first + 1);
    n.close();
    await n.flush();
    const count = socket.messages.length;
    await new Promise((r) => setTimeout(r, 400));
    await n.flush();
    expect(socket.messages.length).toBe(count);
  });

  it('logs (once) instead of throwing when the notify binary is missing', async () => {
    const warnings: string[] = [];
    const n = createNotifier(
      {
        NOTIFY_SOCKET: '/nonexistent/notify.sock',
        SYSTEM_MANAGER_NOTIFY_BINARY: '/nonexistent/systemd-notify',
      },
      { warn: (_obj, msg) => warnings.push(msg ?? '') },
    );
    n.ready();
    n.stopping();
    await n.flush();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot notify the service manager \(READY=1/);
  });

  it('logs when systemd-notify fails (no listener on the socket)', async () => {
    const tmp = tempDir('sm-notify-');
    cleanups.push(tmp.remove);
    const warnings: string[] = [];
    const n = createNotifier(
      { NOTIFY_SOCKET: `${tmp.dir}/nobody.sock` },
      { warn: (_obj, msg) => warnings.push(msg ?? '') },
    );
    n.ready();
    await n.flush();
    expect(warnings).toHaveLength(1);
  });
});
