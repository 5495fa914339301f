import { chmodSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, freshDir, plantRecord, recordOf, tempDir } from '../../test/helpers.js';
import { listSessions } from '../listing.js';
import { readProcessStartTime } from '../process.js';
import { createSessionManager } from '../singleton.js';

/** A live session (this process) and a dead one with a VM, in an earlier location. */
function plantEarlier(dir: string): void {
  plantRecord(
    dir,
    recordOf({
      sessionId: 'earlier-live',
      pid: process.pid,
      processStartTime: readProcessStartTime(process.pid),
      resources: [{ kind: 'vm', id: 'vm-live', registeredAt: 1 }],
    }),
  );
  plantRecord(
    dir,
    recordOf({ sessionId: 'earlier-dead', resources: [{ kind: 'vm', id: 'vm-dead', registeredAt: 1 }] }),
  );
}

describe('sessions in an earlier location of the directory', () => {
  it('are listed read-only, then the dead ones are moved in when a session starts (kept aside there); the live one stays', async () => {
    const earlier = join(tempDir('session-earlier-'), 'core-session');
    const dir = freshDir();
    plantEarlier(earlier);
    const before = filesUnder(earlier);

    const listed = await listSessions({ dir, importFrom: [earlier] });
    expect(listed.map((l) => [l.record.sessionId, l.liveness]).sort()).toEqual([
      ['earlier-dead', 'dead'],
      ['earlier-live', 'live'],
    ]);
    expect(filesUnder(earlier)).toEqual(before);
    expect(existsSync(dir)).toBe(false);

    const manager = createSessionManager({ dir, importFrom: [earlier] });
    expect(readdirSync(join(dir, 'sessions'))).toContain('earlier-dead.json');
    const left = readdirSync(join(earlier, 'sessions'));
    expect(left).toContain('earlier-live.json');
    expect(left.filter((n) => /^earlier-dead\.json\.imported-\d+$/.test(n))).toHaveLength(1);

    // The imported VM is cleaned by the next reap, exactly once.
    const cleaned: string[] = [];
    const report = await manager.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    expect(report.cleaned.map((c) => c.resource.id)).toEqual(['vm-dead']);
    expect(cleaned).toEqual(['vm-dead']);
    // What is left: the live one, still in the earlier location (the reaper owns nothing now, so it has no record).
    expect((await listSessions({ dir, importFrom: [earlier] })).map((l) => l.record.sessionId)).toEqual([
      'earlier-live',
    ]);
    // A second start imports nothing again, and the live session is never reaped.
    const again = createSessionManager({ dir, importFrom: [earlier] });
    await again.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    expect(cleaned).toEqual(['vm-dead']);
  });

  it('a session already recorded in the directory is not overwritten; the earlier copy is kept aside', async () => {
    const earlier = join(tempDir('session-earlier-'), 'core-session');
    const dir = freshDir();
    plantRecord(
      earlier,
      recordOf({ sessionId: 'twice', resources: [{ kind: 'vm', id: 'old', registeredAt: 1 }] }),
    );
    plantRecord(
      dir,
      recordOf({ sessionId: 'twice', resources: [{ kind: 'vm', id: 'new', registeredAt: 2 }] }),
    );
    const manager = createSessionManager({ dir, importFrom: [earlier] });
    const twice = (await manager.listSessions()).find((l) => l.record.sessionId === 'twice');
    expect(twice?.record.resources.map((r) => r.id)).toEqual(['new']);
    expect(readdirSync(join(earlier, 'sessions')).some((n) => n.startsWith('twice.json.imported-'))).toBe(
      true,
    );
  });

  it('an earlier location that is a symlink, or writable by others, is not trusted: nothing is imported or listed', async () => {
    const base = tempDir('session-earlier-');
    const real = join(base, 'real');
    plantEarlier(real);
    const link = join(base, 'link');
    symlinkSync(real, link);
    const open = join(base, 'open');
    plantEarlier(open);
    chmodSync(open, 0o777);
    const dir = freshDir();
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => warnings.push(String(msg)) };
    expect(await listSessions({ dir, importFrom: [link, open] })).toEqual([]);
    createSessionManager({ dir, importFrom: [link, open], logger });
    expect(readdirSync(join(dir, 'sessions')).filter((n) => n.startsWith('earlier-'))).toEqual([]);
    expect(filesUnder(real).every((f) => !f.includes('.imported-'))).toBe(true);
    expect(warnings.join('\n')).toMatch(/not importing sessions from .*link: it is a symbolic link/);
    expect(warnings.join('\n')).toMatch(/not importing sessions from .*open: other users can write into it/);
  });
});
