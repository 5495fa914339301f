import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeService } from './health.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    (server as http.Server).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A raw TCP server that answers every connection with `reply` (in pieces, to test reassembly). */
function rawServer(reply: (socket: net.Socket, request: string) => void): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (chunk) => reply(socket, chunk.toString('latin1')));
  });
}

const HTTP = { type: 'http', path: '/health' } as const;

describe('probeService', () => {
  it('HTTP: any 2xx passes, other statuses fail; the request names the path and a loopback Host', async () => {
    const seen: { url: string | undefined; host: string | undefined }[] = [];
    let status = 204;
    const port = await listen(
      http.createServer((req, res) => {
        seen.push({ url: req.url, host: req.headers.host });
        res.writeHead(status).end();
      }),
    );
    expect(await probeService({ type: 'http', path: '/ready?deep=1' }, port)).toBe(true);
    expect(seen[0]).toEqual({ url: '/ready?deep=1', host: `127.0.0.1:${port}` });
    status = 503;
    expect(await probeService(HTTP, port)).toBe(false);
    status = 302;
    expect(await probeService(HTTP, port)).toBe(false);
  });

  it('HTTP: a status line split across packets is reassembled; garbage, a silent server and a closed port fail', async () => {
    const split = await listen(
      rawServer((socket) => {
        socket.write('HTTP/1.');
        setTimeout(() => socket.end('1 200 OK\r\ncontent-length: 0\r\n\r\n'), 20);
      }),
    );
    expect(await probeService(HTTP, split)).toBe(true);
    const garbage = await listen(rawServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n')));
    expect(await probeService(HTTP, garbage)).toBe(false);
    const endless = await listen(rawServer((socket) => socket.write('x'.repeat(4_096))));
    expect(await probeService(HTTP, endless)).toBe(false);
    const silent = await listen(rawServer(() => {}));
    const began = Date.now();
    expect(await probeService(HTTP, silent)).toBe(false);
    expect(Date.now() - began).toBeLessThan(3_000); // the probe's own timeout, not the server's
    const closed = await listen(net.createServer());
    await new Promise((resolve) => (servers.pop() as net.Server).close(resolve));
    expect(await probeService(HTTP, closed)).toBe(false);
  });

  it('TCP: a connect passes, a closed port fails', async () => {
    const port = await listen(net.createServer((socket) => socket.on('error', () => {})));
    expect(await probeService({ type: 'tcp' }, port)).toBe(true);
    await new Promise((resolve) => (servers.pop() as net.Server).close(resolve));
    expect(await probeService({ type: 'tcp' }, port)).toBe(false);
  });
});
