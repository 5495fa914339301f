// The write path on a real redis-server: compare-and-set on the version this
// store last wrote, a record a reaper changed never written back, a record
// this store never wrote never removed.
import { SessionTakenOverError } from '@core/session';
import { describe, expect, it } from 'vitest';
import { recordOf, remoteOwner } from '../test/helpers.js';
import { ownSide, suiteServer } from '../test/own-side.js';
import { SKIP_REASON } from '../test/redis-server.js';

describe.skipIf(SKIP_REASON !== null)('the write path (RecordWrites)', () => {
  const suite = suiteServer();

  const counter = (version: string | null) => Number(/:(\d+)$/.exec(version ?? '')?.[1]);

  it('moves the version one step per write, and refuses (writing nothing) once a reaper changed it', async () => {
    const owner = remoteOwner('writes');
    const { own, writes, keys } = ownSide(suite.server.url, owner.sessionId);
    await writes.write(recordOf(owner, ['vm-a']));
    const first = await suite.raw.hget(keys.record(owner.sessionId), 'ver');
    expect(counter(first)).toBe(1);
    for (const ids of [['vm-a', 'vm-b'], ['vm-b']]) await writes.write(recordOf(owner, ids));
    expect(counter(await suite.raw.hget(keys.record(owner.sessionId), 'ver'))).toBe(3);
    expect(own.lastRecord?.resources.map((r) => r.id)).toEqual(['vm-b']);

    // A reaper's version: same epoch, another incarnation.
    const epoch = (await suite.raw.get(keys.epoch)) as string;
    const reaped = `${epoch}:00000000-reaper:7`;
    await suite.raw.hset(keys.record(owner.sessionId), 'ver', reaped);
    await expect(writes.write(recordOf(owner, ['vm-c']))).rejects.toBeInstanceOf(SessionTakenOverError);
    expect(own.takenOverBy).not.toBeUndefined();
    expect(await suite.raw.hget(keys.record(owner.sessionId), 'ver')).toBe(reaped);
    await expect(writes.write(recordOf(owner, ['vm-d']))).rejects.toBeInstanceOf(SessionTakenOverError);
  });

  it('removes its own record; a record it never wrote stays', async () => {
    const owner = remoteOwner('remove');
    const mine = ownSide(suite.server.url, owner.sessionId);
    await mine.writes.write(recordOf(owner, ['vm-a']));
    expect(await mine.writes.remove(owner.sessionId)).toBe(true);
    expect(await suite.raw.exists(mine.keys.record(owner.sessionId))).toBe(0);
    expect(await mine.writes.remove(owner.sessionId)).toBe(false);

    const other = remoteOwner('planted');
    const writer = ownSide(suite.server.url, other.sessionId);
    await writer.writes.write(recordOf(other, ['vm-x']));
    const stranger = ownSide(suite.server.url, other.sessionId);
    // The same keys: the stranger's layout is another prefix, so point it at the writer's record.
    const planted = await suite.raw.hgetall(writer.keys.record(other.sessionId));
    await suite.raw.hset(stranger.keys.record(other.sessionId), planted);
    await suite.raw.set(stranger.keys.epoch, (planted['ver'] as string).split(':')[0] as string);
    expect(await stranger.writes.remove(other.sessionId)).toBe(false);
    expect(await suite.raw.hget(stranger.keys.record(other.sessionId), 'ver')).toBe(planted['ver']);
  });
});
