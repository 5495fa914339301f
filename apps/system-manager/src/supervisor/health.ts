import http from 'node:http';
import net from 'node:net';
import type { ServiceConfig } from '../config.js';

/** How long one probe may take before it counts as failed. */
const PROBE_TIMEOUT_MS = 1_000;

function probeHttp(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, timeout: PROBE_TIMEOUT_MS, agent: false },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 300);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function probeTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/** One health check of a service on its port (HTTP: any 2xx; TCP: a connect). Never rejects. */
export function probeService(health: ServiceConfig['health'], port: number): Promise<boolean> {
  return health.type === 'http' ? probeHttp(port, health.path) : probeTcp(port);
}
