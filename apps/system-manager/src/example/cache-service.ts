// The example service of the built-in default config: a small HTTP cache in
// front of a (simulated) inference. It answers lookups, keeps entries for a
// TTL, and reports every hit, miss, expired miss and cleanup to the manager
// over the IPC channel, so `system-manager start` on a fresh machine shows
// live stats. Dependency-free on purpose: it starts in a few milliseconds.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { ServiceMessage } from '../protocol.js';

const port = Number(process.env['PORT']);
const host = process.env['HOST'] ?? '127.0.0.1';
const ttlMs = Number(process.env['CACHE_TTL_MS'] ?? 30_000);
const cleanupEveryMs = Number(process.env['CACHE_CLEANUP_MS'] ?? 10_000);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(
    `cache-service: PORT must be an integer 1-65535, got ${JSON.stringify(process.env['PORT'])}\n`,
  );
  process.exit(2);
}

const cache = new Map<string, { value: string; expiresAt: number }>();

function report(message: ServiceMessage): void {
  // Without a manager (run by hand) there is no channel; the service still works.
  if (process.send && process.connected) process.send(message);
}

function infer(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function lookup(key: string): { value: string; cache: 'hit' | 'miss' | 'expired' } {
  const now = Date.now();
  const entry = cache.get(key);
  if (entry && entry.expiresAt > now) {
    report({ type: 'core.cache', event: 'hit' });
    return { value: entry.value, cache: 'hit' };
  }
  const value = infer(key);
  cache.set(key, { value, expiresAt: now + ttlMs });
  report({ type: 'core.cache', event: 'miss', expired: entry !== undefined });
  return { value, cache: entry ? 'expired' : 'miss' };
}

function cleanup(): void {
  const now = Date.now();
  let removed = 0;
  for (const [key, entry] of cache) {
    if (entry.expiresAt <= now) {
      cache.delete(key);
      removed += 1;
    }
  }
  report({ type: 'core.cache', event: 'cleanup', entriesCleaned: removed });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${host}`);
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (req.method === 'GET' && url.pathname === '/health')
    return send(200, { status: 'ok', entries: cache.size });
  if (req.method === 'GET' && url.pathname === '/lookup') {
    const key = url.searchParams.get('key');
    if (!key) return send(400, { error: 'query parameter "key" is required' });
    return send(200, { key, ...lookup(key) });
  }
  return send(404, { error: `no route ${req.method} ${url.pathname}` });
});

const cleanupTimer = setInterval(cleanup, cleanupEveryMs);
cleanupTimer.unref();

function shutdown(): void {
  clearInterval(cleanupTimer);
  server.close(() => process.exit(0));
  // Keep-alive sockets must not hold the exit hostage.
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// The channel is for reporting only: losing the manager must not kill the
// service (a crashed manager's services are reaped by the next cleanup, by identity).
process.on('disconnect', () => {});

server.listen({ port, host, exclusive: true }, () => {
  process.stderr.write(`cache-service listening on http://${host}:${port} (ttl ${ttlMs} ms)\n`);
});
