// The heartbeat on a real redis-server (lease TTL 600 ms, a beat every
// 150 ms): it keeps the lease past its TTL, re-establishes an expired lease
// while the record is untouched, and stops for good once a reaper changed it.
import { describe, expect, it } from 'vitest';
import { recordOf, remoteOwner, until } from '../test/helpers.js';
import { ownSide, suiteServer } from '../test/own-side.js';
import { SKIP_REASON } from '../test/redis-server.js';

describe.skipIf(SKIP_REASON !== null)('the heartbeat (Heartbeat)', () => {
  const suite = suiteServer();

  it('keeps the lease alive for three TTLs once a write set it', async () => {
    const owner = remoteOwner('alive');
    const { own, writes, keys } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    expect(own.timer).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    expect(await suite.raw.get(keys.lease(owner.sessionId))).toBe(own.leaseId);
    expect(await suite.raw.pttl(keys.lease(owner.sessionId))).toBeGreaterThan(0);
  });

  it('re-establishes an expired lease while the record is what it last wrote (kept)', async () => {
    const owner = remoteOwner('kept');
    const { own, writes, heartbeat, keys, renewals } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    own.stopTimer();
    await suite.raw.del(keys.lease(owner.sessionId));
    await until(() => own.context.connection.connected, 'the connection');
    await heartbeat.beat();
    expect(renewals.map((r) => r.outcome)).toEqual(['kept']);
    expect(await suite.raw.get(keys.lease(owner.sessionId))).toBe(own.leaseId);
  });

  it('stops once a reaper changed the record: the lease is not re-established (taken-over)', async () => {
    const owner = remoteOwner('reaped');
    const { own, writes, heartbeat, keys, renewals } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    const epoch = (await suite.raw.get(keys.epoch)) as string;
    await suite.raw.hset(keys.record(owner.sessionId), 'ver', `${epoch}:00000000-reaper:3`);
    await suite.raw.del(keys.lease(owner.sessionId));
    await until(() => own.context.connection.connected, 'the connection');
    await heartbeat.beat();
    expect(renewals.map((r) => r.outcome)).toEqual(['taken-over']);
    expect(own.timer).toBeNull();
    expect(await suite.raw.exists(keys.lease(owner.sessionId))).toBe(0);
  });
});
