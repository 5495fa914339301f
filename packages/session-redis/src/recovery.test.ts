// The recovery on a real redis-server: a lost dataset (new epoch) and a
// rollback to an older snapshot of the owner's own record make the record and
// its claims be written again, past every version issued before; a version
// written by someone else is never taken for a rollback.
import { describe, expect, it } from 'vitest';
import { recordOf, remoteOwner, until } from '../test/helpers.js';
import { ownSide, suiteServer } from '../test/own-side.js';
import { SKIP_REASON } from '../test/redis-server.js';

describe.skipIf(SKIP_REASON !== null)('the recovery (Recovery)', () => {
  const suite = suiteServer();

  it('after the dataset was lost (a new epoch) writes the record and its claims again', async () => {
    const owner = remoteOwner('lost');
    const { own, writes, heartbeat, keys, renewals, reclaimed } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a', 'vm-b'], { claimed: true }));
    const before = (await suite.raw.get(keys.epoch)) as string;
    own.stopTimer();
    await suite.raw.del(keys.epoch, keys.record(owner.sessionId), keys.lease(owner.sessionId), keys.sessions);
    await until(() => own.context.connection.connected, 'the connection');
    await heartbeat.beat(); // sees no epoch: the dataset is gone
    await until(() => renewals.some((r) => r.outcome === 'restored'), 'the record written again');
    const after = (await suite.raw.get(keys.epoch)) as string;
    expect(after).not.toBe(before);
    expect((await suite.raw.hget(keys.record(owner.sessionId), 'ver'))?.startsWith(`${after}:`)).toBe(true);
    expect(reclaimed.sort()).toEqual(['vm-a', 'vm-b']);
    expect(await suite.raw.sismember(keys.sessions, owner.sessionId)).toBe(1);
  });

  it('after a rollback to an earlier own version writes the record again past every version issued', async () => {
    const owner = remoteOwner('rollback');
    const { own, writes, heartbeat, keys, renewals } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    const first = (await suite.raw.hgetall(keys.record(owner.sessionId))) as Record<string, string>;
    await writes.write(recordOf(owner, ['vm-a', 'vm-b']));
    await writes.write(recordOf(owner, ['vm-a', 'vm-b', 'vm-c']));
    own.stopTimer();
    await suite.raw.hset(keys.record(owner.sessionId), first); // the snapshot of the first write
    await until(() => own.context.connection.connected, 'the connection');
    await heartbeat.beat();
    await until(() => renewals.some((r) => r.outcome === 'restored'), 'the rollback noticed');
    await until(
      async () => /:4$/.test((await suite.raw.hget(keys.record(owner.sessionId), 'ver')) ?? ''),
      'version 4',
    );
    const record = JSON.parse((await suite.raw.hget(keys.record(owner.sessionId), 'rec')) as string);
    expect(record.resources.map((r: { id: string }) => r.id)).toEqual(['vm-a', 'vm-b', 'vm-c']);
  });

  it('never takes a version of another incarnation (a reaper, another writer) for a rollback', async () => {
    const owner = remoteOwner('foreign');
    const { own, writes, recovery, keys } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    await writes.write(recordOf(owner, ['vm-b']));
    const mine = own.version;
    const epoch = (await suite.raw.get(keys.epoch)) as string;
    expect(await recovery.adoptRollback(`${epoch}:00000000-other:1`)).toBe(false);
    expect(own.version).toBe(mine);
    expect(own.rolledBackFrom).toBeNull();
    // No record while the lease is someone else's: a reaper's finished take-over, not a rollback.
    await suite.raw.set(keys.lease(owner.sessionId), 'another-lease');
    expect(await recovery.adoptRollback('')).toBe(false);
    expect(own.version).toBe(mine);
  });
});
