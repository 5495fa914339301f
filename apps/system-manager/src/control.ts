import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the control endpoint needs from the manager. */
export interface ControlSource {
  /** Whether every service is healthy. */
  healthy(): boolean;
  /** The status document served at GET /status. */
  status(): unknown;
  /** Prometheus text exposition served at GET /metrics. */
  metrics(): string;
}

/**
 * The loopback-only control endpoint: GET /health, GET /status (JSON),
 * GET /metrics (Prometheus text). Bound to 127.0.0.1, never a public address.
 */
export async function startControlServer(source: ControlSource, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'application/json' });
      res.end('{"error":"only GET"}\n');
      return;
    }
    try {
      if (path === '/health') {
        const ok = source.healthy();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ status: ok ? 'ok' : 'degraded' })}\n`);
      } else if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(source.status(), null, 2)}\n`);
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(source.metrics());
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          `${JSON.stringify({ error: `no route ${path}`, routes: ['/health', '/status', '/metrics'] })}\n`,
        );
      }
    } catch (error) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: (error as Error).message })}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The port a started server listens on. */
export function serverPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
