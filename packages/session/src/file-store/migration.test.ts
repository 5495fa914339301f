import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, freshDir, recordOf } from '../../test/helpers.js';
import { listSessions } from '../listing.js';
import { readProcessStartTime } from '../process.js';
import { createSessionManager } from '../singleton.js';

function writeV1(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { hostId: _h, ...live } = recordOf({
    sessionId: 'v1-live',
    pid: process.pid,
    processStartTime: readProcessStartTime(process.pid),
    vmId: 'vm-live',
    zone: 'z',
    resources: [
      { kind: 'vm', id: 'vm-live', zone: 'z', registeredAt: 1 },
      { kind: 'port', id: '127.0.0.1:8010', registeredAt: 1 },
    ],
  });
  const { hostId: _d, ...dead } = recordOf({
    sessionId: 'v1-dead',
    resources: [{ kind: 'vm', id: 'vm-dead', registeredAt: 1 }],
  });
  writeFileSync(
    join(dir, 'registry.json'),
    JSON.stringify({
      format: 'core-session-registry',
      version: 1,
      sessions: { 'v1-live': live, 'v1-dead': dead },
    }),
    { mode: 0o600 },
  );
}

describe('migration from a v1 registry.json', () => {
  it('is listed read-only before the upgrade, imported once at start, and kept aside', async () => {
    const dir = freshDir();
    writeV1(dir);
    const before = filesUnder(dir);
    const listed = await listSessions({ dir });
    expect(listed.map((l) => [l.record.sessionId, l.liveness]).sort()).toEqual([
      ['v1-dead', 'dead'],
      ['v1-live', 'live'],
    ]);
    expect(filesUnder(dir)).toEqual(before);

    const manager = createSessionManager({ dir });
    expect(existsSync(join(dir, 'registry.json'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('registry.json.v1-imported-'))).toHaveLength(1);
    const after = await manager.listSessions();
    expect(after.map((l) => l.record.sessionId).sort()).toEqual(['v1-dead', 'v1-live']);
    // The live v1 session still owns its port: nobody else can claim it.
    await expect(
      manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]),
    ).rejects.toMatchObject({
      code: 'E_SESSION_CLAIM_CONFLICT',
    });
    // The dead one is reapable with its VM: the upgrade lost no ownership.
    const report = await manager.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(report.cleaned.map((c) => c.resource.id)).toEqual(['vm-dead']);
    // A second start imports nothing again.
    createSessionManager({ dir });
    expect((await listSessions({ dir })).map((l) => l.record.sessionId)).toEqual(['v1-live']);
  });
});
