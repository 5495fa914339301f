import net from 'node:net';
import type { ServiceConfig } from '../config.js';

/** How long one probe may take before it counts as failed. */
const PROBE_TIMEOUT_MS = 1_000;
/** A status line longer than this is not HTTP: the probe fails instead of buffering more. */
const MAX_STATUS_LINE = 1_024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |\r|$)/;

/**
 * One probe on a fresh loopback connection: `onConnect` writes what the
 * check sends, `onData` decides from what came back (`undefined`: wait for
 * more). Settles once; the socket is destroyed in every case.
 */
function probe(
  port: number,
  onConnect: (socket: net.Socket) => boolean | undefined,
  onData?: (received: string) => boolean | undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let settled = false;
    let received = '';
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => settle(false));
    socket.once('connect', () => {
      const verdict = onConnect(socket);
      if (verdict !== undefined) settle(verdict);
    });
    if (onData) {
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        received += chunk;
        const verdict = onData(received);
        if (verdict !== undefined) settle(verdict);
      });
    }
    socket.once('error', () => settle(false));
    socket.once('close', () => settle(false));
  });
}

/**
 * An HTTP check written on the socket directly: one request line and a Host
 * header out, the status line in, connection closed. Node's HTTP client
 * costs about three times as much CPU per probe (an agent, a parser, request
 * and response objects), which is most of an idle supervisor's work.
 */
function probeHttp(port: number, path: string): Promise<boolean> {
  return probe(
    port,
    (socket) => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
      return undefined;
    },
    (received) => {
      const end = received.indexOf('\r\n');
      if (end < 0) return received.length > MAX_STATUS_LINE ? false : undefined;
      const status = STATUS_LINE.exec(received.slice(0, end));
      if (!status) return false;
      const code = Number(status[1]);
      return code >= 200 && code < 300;
    },
  );
}

/** A TCP check: the port accepts a connection. */
function probeTcp(port: number): Promise<boolean> {
  return probe(port, () => true);
}

/** One health check of a service on its port (HTTP: any 2xx; TCP: a connect). Never rejects. */
export function probeService(health: ServiceConfig['health'], port: number): Promise<boolean> {
  return health.type === 'http' ? probeHttp(port, health.path) : probeTcp(port);
}
