// `leaseTtlsLeft`: what `status --fleet` shows as a session's lease time left,
// read from a real redis-server (PTTL of each lease key).
import type { SessionOwner } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freshPrefix, rawClient } from '../test/helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from '../test/redis-server.js';
import { RedisSessionStore } from './index.js';

function owner(tag: string): SessionOwner {
  return {
    sessionId: `ttl-${tag}-${Date.now()}`,
    pid: 4_000_000,
    hostname: 'another-host',
    hostId: 'another-host-identity',
    processStartTime: '1',
    createdAt: Date.now(),
  };
}

describe.skipIf(SKIP_REASON !== null)('RedisSessionStore.leaseTtlsLeft', () => {
  let server: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.dispose();
  });

  it('gives the lease key PTTL of sessions that have one, nothing for the others', async () => {
    const prefix = freshPrefix();
    const make = () => {
      const store = new RedisSessionStore({
        url: server.url,
        keyPrefix: prefix,
        leaseTtlMs: 3_000,
        heartbeatMs: 1_000,
        settleMs: 0,
      });
      onTestFinished(() => store.close());
      return store;
    };
    const holder = make();
    const leased = owner('leased');
    holder.attach(leased);
    await holder.writeRecord({
      ...leased,
      hostId: leased.hostId ?? undefined,
      registeredAt: Date.now(),
      status: 'active',
      vmId: null,
      zone: null,
      components: [],
      metadata: {},
      resources: [],
    });
    // A lease key without an expiry is no lease this store wrote: not reported.
    await raw.set(`${prefix}l:planted`, 'x');
    const reader = make();
    const left = await reader.leaseTtlsLeft([leased.sessionId, 'never-registered', 'planted']);
    expect([...left.keys()]).toEqual([leased.sessionId]);
    const ms = left.get(leased.sessionId) as number;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(3_000);
    expect(Math.abs(ms - (await raw.pttl(`${prefix}l:${leased.sessionId}`)))).toBeLessThan(1_000);
    expect(await reader.leaseTtlsLeft([])).toEqual(new Map());
  });
});
