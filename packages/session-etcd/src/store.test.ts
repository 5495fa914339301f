import { createSessionManager, listSessions, SessionError } from '@core/session';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from '../test/etcd-cluster.js';
import { freshPrefix, recordOf, remoteOwner, storeOn, tempDir, until } from '../test/helpers.js';
import {
  EtcdSessionStore,
  EtcdStoreError,
  EtcdStoreUnavailableError,
  fencedCleanup,
  fencingTokenOf,
} from './index.js';

describe('EtcdSessionStore errors', () => {
  it('are SessionErrors with stable codes', () => {
    const error = new EtcdStoreUnavailableError('etcd http://h:2379', 10);
    expect(error).toBeInstanceOf(EtcdStoreError);
    expect(error).toBeInstanceOf(SessionError);
    expect(error.code).toBe('E_SESSION_STORE_UNAVAILABLE');
  });
});

describe.skipIf(SKIP_REASON !== null)('EtcdSessionStore on a real 3-member cluster', () => {
  let cluster: EtcdCluster;
  let raw: Etcd3;

  beforeAll(async () => {
    cluster = await startEtcdCluster();
    raw = new Etcd3({ hosts: [...cluster.endpoints] });
  }, 30_000);
  afterAll(async () => {
    raw?.close();
    await cluster?.dispose();
  });

  it('keeps one lease per session: the record outlives it, the marker and the claims are attached to it', async () => {
    const prefix = freshPrefix();
    const store = storeOn(cluster.endpoints, prefix);
    const manager = createSessionManager({ dir: tempDir('session-etcd-'), store });
    await manager.registerVm('vm-1', 'europe-west4-a', ['api']);
    await manager.claimResources('vm', () => [{ kind: 'vm', id: 'vm-claimed' }]);
    const leaseId = store.leaseId as string;
    expect(store.leaseState).toBe('held');
    const record = await raw.get(`${prefix}s/${manager.sessionId}`).json();
    expect((record as { vmId: string }).vmId).toBe('vm-1');
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: leaseId, keys: true });
    const attached = ttl.keys.map((k) => k.toString()).sort();
    expect(attached).toEqual([`${prefix}c/vm/fleet/vm-claimed`, `${prefix}l/${manager.sessionId}`]);
    expect(Number(ttl.grantedTTL)).toBe(2);
    expect(await manager.unregisterSession()).toBe(true);
    expect(await raw.get(`${prefix}s/${manager.sessionId}`).string()).toBeNull();
    await store.close();
    // A session that removed its record revokes its lease at close: nothing of it is left.
    expect((await raw.getAll().prefix(prefix).keys()).length).toBe(0);
  });

  it('lists other hosts by their lease: held while kept alive, expired once the owner stops', async () => {
    const prefix = freshPrefix();
    const owner = remoteOwner('a');
    const ownerStore = storeOn(cluster.endpoints, prefix);
    ownerStore.attach(owner);
    await ownerStore.writeRecord(recordOf(owner, ['vm-a']));
    const reader = storeOn(cluster.endpoints, prefix);
    const leaseOf = async () =>
      (await reader.listSessions()).find((s) => s.record.sessionId === owner.sessionId)?.lease;
    // Kept alive well past its 2 s TTL by the keepalive.
    const started = Date.now();
    await until(
      async () => (await leaseOf()) === 'held' && Date.now() - started > 3_000,
      'the lease to stay held for 3 s',
      6_000,
    );
    await ownerStore.close(); // a record is left: the lease is left to expire, not revoked
    await until(async () => (await leaseOf()) === 'expired', 'the lease to expire', 8_000);
    const [listed] = await listSessions({ store: reader });
    expect(listed?.liveness).toBe('dead');
    expect(listed?.record.resources.map((r) => r.id)).toEqual(['vm-a']);
  });

  it('a reaper takes a dead session over with a fencing token that cleanups receive', async () => {
    const prefix = freshPrefix();
    const owner = remoteOwner('dead');
    const ownerStore = storeOn(cluster.endpoints, prefix);
    ownerStore.attach(owner);
    await ownerStore.writeRecord(recordOf(owner, ['vm-1', 'vm-2']));
    await ownerStore.close();
    const reaperStore = storeOn(cluster.endpoints, prefix);
    const reaper = createSessionManager({ dir: tempDir('session-etcd-'), store: reaperStore });
    await until(
      async () => (await reaperStore.listSessions())[0]?.lease === 'expired',
      'the lease to expire',
      8_000,
    );
    const seen: { id: string; token: string; direct: string | undefined }[] = [];
    const report = await reaper.reapDeadSessions({
      cleanup: fencedCleanup(async (resource, from, fence) => {
        seen.push({ id: resource.id, token: fence.token, direct: fencingTokenOf(from) });
        return { ok: true };
      }),
      adopt: false,
    });
    expect(report.removed).toEqual([owner.sessionId]);
    expect(seen.map((s) => s.id).sort()).toEqual(['vm-1', 'vm-2']);
    const token = seen[0]?.token as string;
    expect(token).toMatch(/^[1-9]\d*$/);
    for (const s of seen) expect(s).toMatchObject({ token, direct: token });
    // The token is the etcd revision of the take-over: later than the owner's last write.
    expect(BigInt(token)).toBeGreaterThan(0n);
    await expect(ownerStore.writeRecord(recordOf(owner, []))).rejects.toBeInstanceOf(SessionError);
    await reaper.unregisterSession();
  });

  // The lease can be lost between the claim's transaction and the write of the record that lists it:
  // the claim must be made again under the new lease, or the port is recorded as claimed with no claim.
  it.each([
    ['noticed by the keepalive before the record is written', true],
    ['noticed by the write of the record itself', false],
  ])(
    'a claim made just before the lease is lost is made again under the new lease (%s)',
    async (_how, waitForRenewal) => {
      const prefix = freshPrefix();
      const store = storeOn(cluster.endpoints, prefix);
      const manager = createSessionManager({ dir: tempDir('session-etcd-'), store });
      await manager.registerVm('vm-1', 'europe-west4-a', ['api']);
      const writeRecord = store.writeRecord.bind(store);
      let revoked: string | null = null;
      store.writeRecord = async (record) => {
        if (revoked === null && record.resources.some((r) => r.kind === 'port')) {
          revoked = store.leaseId as string;
          await raw.leaseClient.leaseRevoke({ ID: revoked });
          if (waitForRenewal)
            await until(
              () => store.leaseRenewals.some((r) => r.outcome === 'kept'),
              'the store to replace its lease',
              8_000,
            );
        }
        return writeRecord(record);
      };
      await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]);
      expect(revoked).not.toBeNull();
      expect(store.leaseId).not.toBe(revoked);
      const [claim] = await store.listClaims('port');
      expect(claim).toMatchObject({ id: '127.0.0.1:8010', lease: 'held' });
      expect(claim?.holder.sessionId).toBe(manager.sessionId);
      const ttl = await raw.leaseClient.leaseTimeToLive({ ID: store.leaseId as string, keys: true });
      expect(ttl.keys.map((k) => k.toString())).toContain(
        `${prefix}c/port/${encodeURIComponent(claim?.holder.hostId ?? '')}/${encodeURIComponent('127.0.0.1:8010')}`,
      );
      // Another session on this host is told the port is taken.
      const peerStore = storeOn(cluster.endpoints, prefix);
      const peer = createSessionManager({ dir: tempDir('session-etcd-'), store: peerStore });
      let seenTaken: string[] = [];
      await peer.claimResources('port', (taken) => {
        seenTaken = [...taken];
        return [{ kind: 'port', id: '127.0.0.1:8011' }];
      });
      expect(seenTaken).toEqual(['127.0.0.1:8010']);
      await peer.unregisterSession();
      await manager.unregisterSession();
    },
  );

  it('skips and warns about values it did not write; they are never reaped or trusted', async () => {
    const prefix = freshPrefix();
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    await raw.put(`${prefix}s/planted-1`).value('{"not":"a record"}');
    await raw.put(`${prefix}s/bad id!`).value('{}');
    await raw.put(`${prefix}l/planted-2`).value('12345'); // a marker on no lease: no evidence of life
    await raw.put(`${prefix}c/vm/fleet/vm-x`).value('{"holder":{"sessionId":"x"}}');
    const good = remoteOwner('good');
    const goodStore = storeOn(cluster.endpoints, prefix);
    goodStore.attach(good);
    await goodStore.writeRecord(recordOf(good, ['vm-good']));
    const copy = { ...recordOf(good, ['vm-planted']), sessionId: 'planted-2' };
    await raw.put(`${prefix}s/planted-2`).value(JSON.stringify(copy));
    const reader = storeOn(cluster.endpoints, prefix, { logger });
    const listed = await reader.listSessions();
    expect(listed.map((s) => s.record.sessionId).sort()).toEqual(['planted-2', good.sessionId].sort());
    expect(listed.find((s) => s.record.sessionId === 'planted-2')?.lease).toBe('expired');
    expect(await reader.listClaims('vm')).toEqual([]);
    expect(warnings.join('\n')).toMatch(/planted-1/);
    expect(warnings.join('\n')).toMatch(/bad id!/);
    expect(warnings.join('\n')).toMatch(/not attached/);
    expect(warnings.join('\n')).toMatch(/c\/vm\/fleet\/vm-x/);
    onTestFinished(() =>
      raw
        .delete()
        .prefix(prefix)
        .then(() => undefined),
    );
  });

  it('sync methods warn and return false; readRecordSync says it cannot', async () => {
    const warnings: string[] = [];
    const store = storeOn(cluster.endpoints, freshPrefix(), {
      logger: { warn: (_o, m) => warnings.push(m ?? '') },
    });
    const owner = remoteOwner('sync');
    expect(store.writeRecordSync(recordOf(owner, []))).toBe(false);
    expect(store.removeRecordSync(owner.sessionId)).toBe(false);
    expect(store.releaseClaimSync('vm', 'x', owner.sessionId)).toBe(false);
    expect(store.readRecordSync(owner.sessionId)).toBeUndefined();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/cannot be reached synchronously/);
  });

  it('an unreachable cluster rejects with EtcdStoreUnavailableError within unavailableTimeoutMs and emits one outage', async () => {
    const store = new EtcdSessionStore({
      endpoints: ['http://127.0.0.1:9'],
      keyPrefix: freshPrefix(),
      unavailableTimeoutMs: 600,
      commandTimeoutMs: 200,
      leaseTtlMs: 2_000,
      heartbeatMs: 500,
    });
    onTestFinished(() => store.close());
    const outages: unknown[] = [];
    store.on('outage', (event) => outages.push(event));
    const started = Date.now();
    await expect(store.listSessions()).rejects.toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(outages).toHaveLength(1);
    expect(store.connected).toBe(false);
  });
});
