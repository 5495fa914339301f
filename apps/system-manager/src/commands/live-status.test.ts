import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchLiveStatus, parseLiveStatus } from './live-status.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return (server.address() as AddressInfo).port;
}

describe('fetchLiveStatus (whatever answers on a control port is untrusted)', () => {
  it('keeps only well-typed fields', () => {
    expect(
      parseLiveStatus({
        services: [{ name: 'a', pid: 'x', port: 3, health: 'great', restarts: 2 }, { pid: 1 }, 'junk'],
      }),
    ).toEqual({
      services: [{ name: 'a', port: 3, restarts: 2 }],
      ports: {},
      aliases: {},
    });
    expect(parseLiveStatus([])).toBeNull();
  });

  it('returns null for garbage, an error status, an endless body and a server that never answers', async () => {
    const garbage = await serve((_q, res) => res.end('not json'));
    const failing = await serve((_q, res) => {
      res.writeHead(500);
      res.end('{}');
    });
    const endless = await serve((_q, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (res.write(chunk)) {}
        res.once('drain', pump);
      };
      pump();
    });
    const silent = await serve(() => {});
    expect(await fetchLiveStatus(garbage)).toBeNull();
    expect(await fetchLiveStatus(failing)).toBeNull();
    expect(await fetchLiveStatus(endless)).toBeNull();
    const began = Date.now();
    expect(await fetchLiveStatus(silent, 200)).toBeNull();
    expect(Date.now() - began).toBeLessThan(5000);
  });

  it('reads a real status document', async () => {
    const port = await serve((_q, res) =>
      res.end(
        JSON.stringify({
          sessionId: 's1',
          ports: { control: 1 },
          services: [{ name: 'a', state: 'healthy', pid: 5 }],
        }),
      ),
    );
    expect(await fetchLiveStatus(port)).toMatchObject({
      sessionId: 's1',
      ports: { control: 1 },
      services: [{ name: 'a', state: 'healthy', pid: 5 }],
    });
  });
});
