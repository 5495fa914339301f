import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { filesUnder, freshDir, plantRecord, recordOf } from '../test/helpers.js';
import { FileSessionStore } from './file-store/store.js';
import { listSessions } from './listing.js';
import { createSessionManager } from './singleton.js';

describe('listSessions', () => {
  it('creates no files or directories: a missing directory lists as empty', async () => {
    const dir = freshDir();
    expect(await listSessions({ dir })).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('judges every session and changes nothing, also with corrupt files and records being reaped', async () => {
    const dir = freshDir();
    const live = createSessionManager({ dir });
    await live.registerVm('vm-live', 'z', []);
    plantRecord(
      dir,
      recordOf({ sessionId: 'dead', resources: [{ kind: 'vm', id: 'vm-d', registeredAt: 0 }] }),
    );
    plantRecord(
      dir,
      recordOf({ sessionId: 'held', resources: [{ kind: 'vm', id: 'vm-h', registeredAt: 0 }] }),
    );
    const store = new FileSessionStore({ dir });
    const held = (await store.listSessions()).find((s) => s.record.sessionId === 'held')!;
    await store.takeOver(held, {
      sessionId: live.sessionId,
      pid: live.pid,
      hostname: live.hostname,
      hostId: live.host.id,
      processStartTime: live.processStartTime,
      createdAt: live.createdAt,
    });
    plantRecord(dir, recordOf({ sessionId: 'torn' }));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/sessions/torn.json`, '{');
    const before = filesUnder(dir);
    const listed = Object.fromEntries((await listSessions({ dir })).map((l) => [l.record.sessionId, l]));
    expect(Object.keys(listed).sort()).toEqual([live.sessionId, 'dead', 'held'].sort());
    expect(listed[live.sessionId]).toMatchObject({ liveness: 'live', thisHost: true });
    expect(listed['dead']).toMatchObject({ liveness: 'dead', reason: expect.stringContaining('is gone') });
    expect(listed['held']?.reaping?.by).toBe(live.sessionId);
    expect(filesUnder(dir)).toEqual(before);
  });
});
