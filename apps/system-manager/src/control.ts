import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

/** What the control endpoint needs from the manager. */
export interface ControlSource {
  /** Whether every service is healthy. */
  healthy(): boolean;
  /** The status document served at GET /status. */
  status(): unknown;
  /** Prometheus text exposition served at GET /metrics. */
  metrics(): string;
}

/** Limits of the control endpoint: slow or idle clients cannot hold descriptors. */
export interface ControlServerOptions {
  /** Time to receive a request's headers (slowloris). Default 5 s. */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this. Default 5 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Concurrent connections; more are refused at once. Default 64. */
  readonly maxConnections?: number;
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', 'ip6-localhost', 'ip6-loopback']);

/**
 * Whether a `Host` header names this machine's loopback: `localhost`,
 * 127.0.0.0/8 or `[::1]`, with any port. A web page's script reaching us
 * through DNS rebinding sends its own host name, and is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0) return false;
    name = name.slice(1, end);
  } else {
    const colon = name.lastIndexOf(':');
    if (colon >= 0) name = name.slice(0, colon);
  }
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost')) return true;
  if (net.isIPv4(name)) return name.startsWith('127.');
  if (net.isIPv6(name)) return name === '::1' || name === '0:0:0:0:0:0:0:1' || name.startsWith('::ffff:127.');
  return false;
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  // For HEAD, Node sends the headers (with content-length) and drops the body.
  res.end(body);
}

/**
 * The loopback-only control endpoint: GET (or HEAD) /health, /status (JSON),
 * /metrics (Prometheus text). Bound to 127.0.0.1, answers only requests whose
 * `Host` is a loopback name or address, and bounds time and connections.
 */
export async function startControlServer(
  source: ControlSource,
  port: number,
  options: ControlServerOptions = {},
): Promise<http.Server> {
  const headersTimeout = options.headersTimeoutMs ?? 5_000;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? 10_000, headersTimeout);
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // Node checks the two timeouts above only this often (default 30 s).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      try {
        handle(source, req, res);
      } catch (error) {
        if (!res.headersSent) send(res, 500, `${JSON.stringify({ error: (error as Error).message })}\n`);
        else res.destroy();
      }
    },
  );
  server.maxConnections = options.maxConnections ?? 64;
  server.maxHeadersCount = 100;
  // A client's broken socket is its problem, never an uncaught error of ours.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve();
    });
  });
  return server;
}

function handle(source: ControlSource, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (!isLoopbackHost(req.headers.host)) {
    send(res, 403, `${JSON.stringify({ error: 'Host must be a loopback name or address' })}\n`, {
      connection: 'close',
    });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, '{"error":"only GET and HEAD"}\n', { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/health') {
    const ok = source.healthy();
    send(res, ok ? 200 : 503, `${JSON.stringify({ status: ok ? 'ok' : 'degraded' })}\n`);
  } else if (path === '/status') {
    send(res, 200, `${JSON.stringify(source.status(), null, 2)}\n`);
  } else if (path === '/metrics') {
    send(res, 200, source.metrics(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  } else {
    send(
      res,
      404,
      `${JSON.stringify({ error: `no route ${path}`, routes: ['/health', '/status', '/metrics'] })}\n`,
    );
  }
}

/** The port a started server listens on. */
export function serverPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
