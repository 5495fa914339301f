import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { until } from '../test/helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from '../test/redis-server.js';
import { Connection } from './connection.js';
import { resolveRedisOptions } from './options.js';

describe.skipIf(SKIP_REASON !== null)('Connection on a real redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
  });

  // ioredis never leaves `end` by itself (seen behind Sentinel during a failover on a loaded
  // machine): waiting for it to try again only lets the session's lease run out.
  it('replaces a client that ended within a second, not after the stall budget', async () => {
    const warnings: string[] = [];
    const options = resolveRedisOptions({
      url: server.url,
      commandTimeoutMs: 1_000,
      reconnectMaxDelayMs: 5_000,
    });
    const connection = new Connection(options, server.url, { warn: (_o, m) => warnings.push(m ?? '') });
    onTestFinished(() => connection.close());
    await until(() => connection.connected, 'the first connection');
    const ended = connection.redis;
    ended.disconnect(); // status 'end': this client will never reconnect
    await until(() => ended.status === 'end', 'the client to end', 5_000);
    const started = Date.now();
    await until(() => connection.connected, 'a new client to connect', 10_000);
    // The stall budget would be connect timeout + longest reconnect delay + 2 s = 8 s here.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(connection.redis).not.toBe(ended);
    expect(warnings.join('\n')).toMatch(/ended .*replacing it/);
  });
});
