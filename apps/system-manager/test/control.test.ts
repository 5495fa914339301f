// The control endpoint against real sockets: DNS rebinding (a foreign Host)
// is refused, HEAD answers like GET, and 200 slow clients neither exhaust
// descriptors nor outlive the header timeout; at its connection cap the
// oldest idle connection makes room for a new one, and a failed or silent
// client's socket is destroyed, not only half-closed.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackHost, startControlServer } from '../src/control.js';
import { connectionBudget } from '../src/control-limits.js';
import { waitUntil } from './helpers.js';

const source = {
  healthy: () => true,
  status: () => ({ state: 'running' }),
  metrics: () => 'system_manager_up 1\n',
};

let server: http.Server | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server?.close(r));
  }
  server = undefined;
});

const connections = () => new Promise<number>((resolve) => server?.getConnections((_e, n) => resolve(n)));

/** Opens `count` connections that send `first` (if any) and never read; counts the ones the server closed. */
async function hold(port: number, count: number, first = ''): Promise<{ closed: () => number }> {
  let closed = 0;
  for (let i = 0; i < count; i++) {
    // One after the other: the server sees them in this order, oldest first.
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        if (first) s.write(first);
        resolve();
      });
      s.on('error', () => resolve());
      s.on('close', () => {
        closed += 1;
      });
      sockets.push(s);
    });
  }
  return { closed: () => closed };
}

async function start(options = {}): Promise<number> {
  server = await startControlServer(source, 0, options);
  return (server.address() as net.AddressInfo).port;
}

function request(
  port: number,
  options: { method?: string; path?: string; host?: string },
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/health',
        headers: { host: options.host ?? `127.0.0.1:${port}` },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('control endpoint hardening', () => {
  it('answers loopback Host names and addresses only (DNS rebinding)', async () => {
    const port = await start();
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, '127.1.2.3'])
      expect((await request(port, { host })).status, host).toBe(200);
    for (const host of [
      `evil.example:${port}`,
      'rebind.attacker.test',
      `10.0.0.1:${port}`,
      `[::2]:${port}`,
    ]) {
      const res = await request(port, { host });
      expect(res.status, host).toBe(403);
      expect(res.body).toContain('loopback');
    }
    expect(isLoopbackHost(undefined)).toBe(false);
    expect(isLoopbackHost('LOCALHOST:80')).toBe(true);
    expect(isLoopbackHost('localhost.evil.example')).toBe(false);
  });

  it('HEAD answers like GET without a body; other methods get 405 with Allow', async () => {
    const port = await start();
    const get = await request(port, { path: '/status' });
    const head = await request(port, { method: 'HEAD', path: '/status' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect((await request(port, { method: 'HEAD', path: '/metrics' })).headers['content-type']).toMatch(
      /^text\/plain/,
    );
    const post = await request(port, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });

  it('200 clients sending half a request line: at most maxConnections are held, all are dropped after the header timeout, and it still answers', async () => {
    const port = await start({ headersTimeoutMs: 1_000, maxConnections: 32 });
    const closedAt: number[] = [];
    const began = Date.now();
    await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write('GET /status HT');
              resolve();
            });
            s.resume(); // read the server's 408 and FIN, so 'close' fires
            s.on('error', () => resolve());
            s.on('close', () => closedAt.push(Date.now() - began));
            sockets.push(s);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const held = await new Promise<number>((resolve) => server?.getConnections((_e, n) => resolve(n)));
    expect(held).toBeLessThanOrEqual(32);
    // Every socket is closed by the server: refused at once, or at the header timeout (checked every second).
    const deadline = Date.now() + 6_000;
    while (closedAt.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(closedAt).toHaveLength(200);
    expect(Math.max(...closedAt)).toBeLessThan(5_000);
    // The server's side of each socket closes once the client's FIN is processed: on a loaded
    // machine that can trail the clients' own 'close' events, so wait for it, within a bound.
    const connections = () => new Promise<number>((resolve) => server?.getConnections((_e, n) => resolve(n)));
    const drained = Date.now() + 3_000;
    while ((await connections()) > 0 && Date.now() < drained) await new Promise((r) => setTimeout(r, 50));
    expect(await connections()).toBe(0);
    expect((await request(port, {})).status).toBe(200);
  });

  it('at its cap a new connection takes the place of the oldest idle one, so /health always gets in', async () => {
    const port = await start({ maxConnections: 8 });
    const held = await hold(port, 20);
    await waitUntil(() => held.closed() === 12, 2_000, '12 connections made room for');
    expect(await connections()).toBe(8);
    // The newest are the ones kept: the oldest were destroyed first.
    expect(sockets.slice(-8).every((s) => !s.destroyed)).toBe(true);
    for (let i = 0; i < 3; i++) expect((await request(port, {})).status).toBe(200);
    expect(await connections()).toBeLessThanOrEqual(8);
  });

  it('a client sending garbage gets a 400 and its socket is destroyed, though it neither reads nor closes', async () => {
    const port = await start();
    await hold(port, 5, 'NOT HTTP AT ALL\r\n\r\n');
    await waitUntil(async () => (await connections()) === 0, 2_000, 'the server side of every socket closed');
    // One that does read gets the answer before the close.
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const s = net.connect(port, '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
      s.on('data', (c: Buffer) => {
        text += c.toString();
      });
      s.on('error', () => {});
      s.on('close', () => resolve(text));
      sockets.push(s);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('a connection that never sends a byte is destroyed after the idle timeout', async () => {
    const port = await start({ idleTimeoutMs: 300 });
    const held = await hold(port, 5);
    expect(await connections()).toBe(5);
    await waitUntil(() => held.closed() === 5, 2_000, 'silent connections destroyed');
    expect(await connections()).toBe(0);
  });

  it('the default cap is half of the descriptors free under the limit, between 4 and 64', () => {
    expect(connectionBudget({ limit: 128, open: 24 })).toBe(52);
    expect(connectionBudget({ limit: 64, open: 24 })).toBe(20);
    expect(connectionBudget({ limit: 32, open: 30 })).toBe(4);
    expect(connectionBudget({ limit: 1_048_576, open: 24 })).toBe(64);
  });
});
