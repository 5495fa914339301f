// On a (one-node) Redis Cluster the server refuses every command and script
// whose keys span hash slots. Everything the store does runs here unchanged:
// the prefix's hash tag puts a fleet's keys in one slot, and every script
// declares its keys.
import { createSessionManager, type SessionOwner } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { freshDir, freshPrefix, rawClient, until } from './helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from './redis-server.js';

describe.skipIf(SKIP_REASON !== null)('on a Redis Cluster node', { timeout: 60_000 }, () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisSessionStore[] = [];
  beforeAll(async () => {
    server = await startRedisServer({ cluster: true });
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    raw?.disconnect();
    await server?.dispose();
  });
  const store = (prefix: string) => {
    const s = new RedisSessionStore({
      url: server.url,
      keyPrefix: prefix,
      leaseTtlMs: 600,
      heartbeatMs: 150,
      settleMs: 0,
    });
    stores.push(s);
    return s;
  };

  it('the server does refuse keys of two slots in one script (the check is real)', async () => {
    await expect(raw.eval("return redis.call('GET', KEYS[1])", 2, '{a}x', '{b}y')).rejects.toThrow(
      /CROSSSLOT/,
    );
  });

  it('register, claim, release, heartbeat, list, and reaping by take-over all run without a CROSSSLOT', async () => {
    const prefix = freshPrefix();
    const ownerStore = store(prefix);
    const owner: SessionOwner = {
      sessionId: `remote-${Date.now()}`,
      pid: 4_000_000,
      hostname: 'another-host',
      hostId: 'another-host-identity',
      processStartTime: '1',
      createdAt: Date.now(),
    };
    ownerStore.attach(owner);
    const claim = await ownerStore.claim({ kind: 'vm', id: 'vm-c', owner, holderIsDead: () => false });
    expect(claim.ok).toBe(true);
    await ownerStore.writeRecord({
      ...owner,
      hostId: 'another-host-identity',
      registeredAt: Date.now(),
      status: 'active',
      vmId: null,
      zone: null,
      components: [],
      metadata: {},
      resources: [{ kind: 'vm', id: 'vm-c', registeredAt: Date.now(), claimed: true }],
    });
    await raw.del(`${prefix}l:${owner.sessionId}`);
    await until(
      async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 1,
      'the heartbeat to renew',
    );
    await ownerStore.close();
    await until(async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0, 'the lease to expire');

    const manager = createSessionManager({ dir: freshDir(), store: store(prefix) });
    await manager.registerVm('vm-mine', 'z', []);
    await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]);
    const report = await manager.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(report.cleaned.map((c) => c.resource.id)).toEqual(['vm-c']);
    expect(await manager.store.listClaims('vm')).toEqual([]); // released with its cleanup
    expect((await manager.listSessions()).map((l) => l.record.sessionId)).toEqual([manager.sessionId]);
    expect(await manager.unregisterSession()).toBe(true);
    expect(await raw.keys(`${prefix}c:*`)).toEqual([]);
  });
});
