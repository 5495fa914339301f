// The server goes away under a running manager: SIGKILLed and restarted
// without persistence (its data and the epoch are gone), or paused past the
// lease TTL. Nothing may crash, the outage is logged once and the recovery
// once, the lease is re-established, and no snapshot read before the restart
// is accepted afterwards.
import { createSessionManager, SessionError, type SessionOwner } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../src/index.js';
import { freshDir, freshPrefix, rawClient, until } from './helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from './redis-server.js';

describe.skipIf(SKIP_REASON !== null)(
  'redis-server outages under a running manager',
  { timeout: 60_000 },
  () => {
    let server: RedisServer;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    const stores: RedisSessionStore[] = [];

    beforeAll(async () => {
      server = await startRedisServer();
      process.on('unhandledRejection', onUnhandled);
    });
    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      await Promise.all(stores.map((s) => s.close()));
      await server?.dispose();
    });

    function logged() {
      const warnings: string[] = [];
      const infos: string[] = [];
      return {
        warnings,
        infos,
        logger: {
          warn: (_o: object, m?: string) => warnings.push(m ?? ''),
          info: (_o: object, m?: string) => infos.push(m ?? ''),
        },
      };
    }
    function store(prefix: string, options: Partial<RedisSessionStoreOptions>) {
      const s = new RedisSessionStore({
        url: server.url,
        keyPrefix: prefix,
        leaseTtlMs: 1_000,
        heartbeatMs: 200,
        settleMs: 0,
        unavailableTimeoutMs: 400,
        reconnectMaxDelayMs: 200,
        commandTimeoutMs: 300,
        ...options,
      });
      stores.push(s);
      return s;
    }

    it('SIGKILL and restart without persistence: calls fail with a coded error meanwhile, then record, lease and claims are back, and an old snapshot never passes', async () => {
      const prefix = freshPrefix();
      const log = logged();
      const ownerStore = store(prefix, { logger: log.logger });
      const outages: unknown[] = [];
      const renewals: string[] = [];
      ownerStore.on('outage', (o) => outages.push(o));
      ownerStore.on('leaseRenewed', (r) => renewals.push(r.outcome));
      const manager = createSessionManager({ dir: freshDir(), store: ownerStore });
      await manager.registerVm('vm-survivor', 'z', []);
      await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]);
      const reaperStore = store(prefix, {});
      const reaper: SessionOwner = {
        sessionId: `reaper-${Date.now()}`,
        pid: 4_000_001,
        hostname: 'another-host',
        hostId: 'another-host-identity',
        processStartTime: '1',
        createdAt: Date.now(),
      };
      reaperStore.attach(reaper);
      const snapshot = await reaperStore.listSessions(); // read before the restart
      expect(snapshot).toHaveLength(1);

      await server.stop(true); // kill -9: the data goes with it
      await until(() => !ownerStore.connected && outages.length === 1, 'the store to notice the outage');
      const failed = await manager.registerResource({ kind: 'vm', id: 'during' }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(SessionError);
      expect(failed).toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' });
      expect(await manager.registerVm('vm-x', 'z', [])).toBe(false); // the VM API warns and answers false
      await new Promise((resolve) => setTimeout(resolve, 700)); // several reconnect attempts fail meanwhile
      expect(log.warnings.filter((w) => w.includes('unreachable'))).toHaveLength(1);

      await server.restart(); // same port, empty
      await until(() => renewals.includes('restored'), 'the record to be written again', 20_000);
      const raw: Redis = rawClient(server.url);
      try {
        const record = JSON.parse((await raw.hget(`${prefix}s:${manager.sessionId}`, 'rec')) as string);
        expect(record.vmId).toBe('vm-survivor');
        expect(await raw.get(`${prefix}l:${manager.sessionId}`)).toBe(ownerStore.leaseId);
        expect(await raw.keys(`${prefix}c:port:*`)).toHaveLength(1); // the claim is back too
        expect(log.infos.filter((m) => m.includes('reachable again'))).toHaveLength(1);
        expect(log.warnings.filter((w) => w.includes('dataset changed'))).toHaveLength(1);

        // The snapshot from before the restart: its version carries the old epoch and never matches again,
        // even after the owner wrote as often as before.
        await manager.registerResource({ kind: 'vm', id: 'after' });
        expect(await reaperStore.takeOver(snapshot[0] as never, reaper)).toBeNull();
        expect(await raw.hexists(`${prefix}s:${manager.sessionId}`, 'reaper')).toBe(0);
        expect((await manager.getMyResources()).map((r) => r.id).sort()).toEqual([
          '127.0.0.1:8010',
          'after',
          'vm-survivor',
        ]);
      } finally {
        raw.disconnect();
      }
      expect(unhandled).toEqual([]);
      await manager.unregisterSession();
    });

    it('a crash and a restart from an older snapshot (same epoch): the owner writes its record and claims again, under a version never issued before', async () => {
      const prefix = freshPrefix();
      const renewals: string[] = [];
      const ownerStore = store(prefix, {});
      ownerStore.on('leaseRenewed', (r) => renewals.push(r.outcome));
      const manager = createSessionManager({ dir: freshDir(), store: ownerStore });
      await manager.registerResource({ kind: 'vm', id: 'vm-a' });
      await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8020' }]);
      const raw = rawClient(server.url);
      const recordKey = `${prefix}s:${manager.sessionId}`;
      try {
        await raw.save(); // the snapshot the server will come back with
        const saved = (await raw.hget(recordKey, 'ver')) as string;
        await manager.registerResource({ kind: 'vm', id: 'vm-b' });
        await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8021' }]);
        const beforeCrash = (await raw.hget(recordKey, 'ver')) as string;
        expect(Number(beforeCrash.split(':')[2])).toBeGreaterThan(Number(saved.split(':')[2]));
        raw.disconnect();

        await server.restart(); // SIGKILL, then the server loads its last save: vm-b and port 8021 are gone there
        const back = rawClient(server.url);
        try {
          // The heartbeat sees the earlier version of its own record and writes it again.
          await until(
            async () => ((await back.hget(recordKey, 'rec')) ?? '').includes('vm-b'),
            'the record to be written again',
            20_000,
          );
          expect(renewals).toContain('restored');
          expect(renewals).not.toContain('taken-over');
          expect(ownerStore.takenOver).toBe(false);
          const ids = JSON.parse((await back.hget(recordKey, 'rec')) as string).resources.map(
            (r: { id: string }) => r.id,
          );
          expect(ids.sort()).toEqual(['127.0.0.1:8020', '127.0.0.1:8021', 'vm-a', 'vm-b']);
          expect(await back.keys(`${prefix}c:port:*`)).toHaveLength(2); // the claim made after the save is back
          expect(await back.get(`${prefix}l:${manager.sessionId}`)).toBe(ownerStore.leaseId);
          // Versions go on past the newest issued before the crash: no token is handed out twice.
          const restored = (await back.hget(recordKey, 'ver')) as string;
          expect(Number(restored.split(':')[2])).toBeGreaterThan(Number(beforeCrash.split(':')[2]));
          await manager.registerResource({ kind: 'vm', id: 'vm-c' }); // and writes go on

          // A record deleted by hand while the lease is ours is written again too (nobody reaped it:
          // a take-over always drops the owner's lease) …
          await back.del(recordKey);
          await manager.registerResource({ kind: 'vm', id: 'vm-d' });
          expect(((await back.hget(recordKey, 'rec')) ?? '').includes('vm-d')).toBe(true);
          // … but a record gone together with our lease may have been reaped: nothing is written back.
          await back.del(recordKey, `${prefix}l:${manager.sessionId}`);
          await expect(manager.registerResource({ kind: 'vm', id: 'vm-e' })).rejects.toMatchObject({
            code: 'E_SESSION_TAKEN_OVER',
          });
          expect(await back.exists(recordKey)).toBe(0);
        } finally {
          back.disconnect();
        }
      } finally {
        raw.disconnect();
      }
      expect(unhandled).toEqual([]);
    });

    it('a server paused past the lease TTL: the lease expired, nobody reaped, so it is re-established', async () => {
      const prefix = freshPrefix();
      const renewals: string[] = [];
      const ownerStore = store(prefix, {});
      ownerStore.on('leaseRenewed', (r) => renewals.push(r.outcome));
      const manager = createSessionManager({ dir: freshDir(), store: ownerStore });
      await manager.registerResource({ kind: 'vm', id: 'paused' });
      process.kill(server.pid, 'SIGSTOP');
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // heartbeats time out meanwhile
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      const raw = rawClient(server.url);
      try {
        // The first heartbeat the server runs after the pause finds the lease expired and the record
        // untouched, and re-establishes it (its reply may be lost to the client's command timeout, so
        // the server's state is what is checked).
        await until(
          async () => (await raw.get(`${prefix}l:${manager.sessionId}`)) === ownerStore.leaseId,
          'the lease to be re-established',
          20_000,
        );
        const record = JSON.parse((await raw.hget(`${prefix}s:${manager.sessionId}`, 'rec')) as string);
        expect(record.resources).toHaveLength(1);
        expect(renewals.filter((r) => r !== 'kept')).toEqual([]);
        expect(ownerStore.takenOver).toBe(false);
        await manager.registerResource({ kind: 'vm', id: 'after-pause' }); // and writes go on
      } finally {
        raw.disconnect();
      }
      expect(unhandled).toEqual([]);
      await manager.unregisterSession();
    });

    it('a write that landed while its reply was lost (the server paused past the command timeout) is not mistaken for a take-over', async () => {
      const prefix = freshPrefix();
      const ownerStore = store(prefix, { commandTimeoutMs: 150, unavailableTimeoutMs: 500 });
      const manager = createSessionManager({ dir: freshDir(), store: ownerStore });
      await manager.registerResource({ kind: 'vm', id: 'before' });
      process.kill(server.pid, 'SIGSTOP');
      let failed: unknown;
      try {
        failed = await manager.registerResource({ kind: 'vm', id: 'in-flight' }).catch((e: unknown) => e);
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      expect(failed).toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' }); // the caller was told it may not have landed
      // The server ran the buffered write after the pause; the next write finds its own step and goes on.
      await manager.registerResource({ kind: 'vm', id: 'after' });
      expect(ownerStore.takenOver).toBe(false);
      const raw = rawClient(server.url);
      try {
        const record = JSON.parse((await raw.hget(`${prefix}s:${manager.sessionId}`, 'rec')) as string);
        expect(record.resources.map((r: { id: string }) => r.id)).toContain('after');
      } finally {
        raw.disconnect();
      }
      expect(await manager.unregisterSession()).toBe(true);
      expect(unhandled).toEqual([]);
    });
  },
);
