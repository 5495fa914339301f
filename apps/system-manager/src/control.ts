import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { ConnectionCap, connectionBudget, dropClient } from './control-limits.js';

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
  /**
   * A connection without any traffic for this long is destroyed, one that
   * never sent a byte included (the two timeouts above count from a
   * request's first byte). Default 5 s.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Connections held at once; a new one beyond them takes the place of the
   * one idle longest. Default: half of the descriptors free under the
   * `nofile` limit when the server starts, between 4 and 64.
   */
  readonly maxConnections?: number;
}

/** What a client whose request failed is told before its connection is destroyed (nothing: just destroyed). */
function failureResponse(code: string | undefined): string | undefined {
  const status = (line: string) => `HTTP/1.1 ${line}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return status('408 Request Timeout');
    case 'HPE_HEADER_OVERFLOW':
      return status('431 Request Header Fields Too Large');
    default:
      return status('400 Bad Request');
  }
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
 * `Host` is a loopback name or address, and bounds time and connections: a
 * crowd of idle or slow clients costs at most `maxConnections` descriptors
 * and never keeps a new `/health` request out (see `ConnectionCap` in control-limits.ts).
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
  server.maxHeadersCount = 100;
  // Without a 'timeout' listener, Node destroys a socket silent for this long.
  server.timeout = options.idleTimeoutMs ?? 5_000;
  new ConnectionCap(options.maxConnections ?? connectionBudget()).attach(server);
  // A client's broken socket is its problem, never an uncaught error of ours.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) =>
    dropClient(socket as net.Socket, failureResponse(error.code)),
  );
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
