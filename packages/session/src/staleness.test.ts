import { describe, expect, it } from 'vitest';
import { deadPid } from '../test/helpers.js';
import { hostIdOf, readHostIdentity, stableHostIdOf } from './host.js';
import { readProcessStartTime } from './process.js';
import { judgeLiveness, judgeSession } from './staleness.js';

const host = readHostIdentity();
const HOUR = 3_600_000;
const now = Date.now();
const me = {
  pid: process.pid,
  hostname: host.hostname,
  hostId: host.id,
  processStartTime: readProcessStartTime(process.pid),
  createdAt: now - 100 * HOUR,
};
const remote = {
  pid: 1,
  hostname: 'elsewhere',
  hostId: 'e'.repeat(32),
  processStartTime: '1',
  createdAt: now,
};
const ctx = (lease: 'none' | 'held' | 'expired' | 'settling') => ({ now, maxAgeMs: HOUR, host, lease });

describe('judgeLiveness', () => {
  it('a verified pid on this host is live whatever its age or lease', () => {
    for (const lease of ['none', 'held', 'expired', 'settling'] as const)
      expect(judgeLiveness(me, ctx(lease))).toMatchObject({ liveness: 'live', thisHost: true });
  });

  it('a gone or reused pid on this host is dead whatever its lease', () => {
    expect(judgeLiveness({ ...me, pid: deadPid() }, ctx('held')).liveness).toBe('dead');
    expect(judgeLiveness({ ...me, processStartTime: `${me.processStartTime}0` }, ctx('held')).liveness).toBe(
      'dead',
    );
  });

  it('other hosts: the lease decides; settling is never dead; without leases the age does', () => {
    expect(judgeLiveness(remote, ctx('held')).liveness).toBe('live');
    expect(judgeLiveness(remote, ctx('expired')).liveness).toBe('dead');
    expect(judgeLiveness(remote, ctx('settling')).liveness).toBe('unknown');
    expect(judgeLiveness(remote, ctx('none')).liveness).toBe('unknown');
    expect(judgeLiveness({ ...remote, createdAt: now - 2 * HOUR }, ctx('none')).liveness).toBe('dead');
    expect(
      judgeLiveness({ ...remote, createdAt: now - 2 * HOUR, heartbeatAt: now }, ctx('none')).liveness,
    ).toBe('unknown');
  });

  it('a live pid without a recorded start time cannot be verified: age (or lease) decides', () => {
    const unverified = { ...me, processStartTime: null };
    expect(judgeLiveness({ ...unverified, createdAt: now }, ctx('none')).liveness).toBe('live');
    expect(judgeLiveness(unverified, ctx('none')).liveness).toBe('dead');
    expect(judgeLiveness(unverified, ctx('held')).liveness).toBe('live');
  });

  it('v1 records without hostId are judged by hostname; judgeSession keeps the v1 verdicts', () => {
    const { hostId: _h, ...v1 } = me;
    expect(judgeLiveness(v1, ctx('none')).thisHost).toBe(true);
    expect(judgeSession(v1, { now, maxAgeMs: HOUR, hostname: host.hostname })).toBe('live');
    expect(
      judgeSession(
        { ...remote, createdAt: now - 2 * HOUR },
        { now, maxAgeMs: HOUR, hostname: host.hostname },
      ),
    ).toBe('stale');
    expect(judgeSession(remote, { now, maxAgeMs: HOUR, hostname: host.hostname })).toBe('remote');
  });

  it('an owner from an earlier boot of this machine is dead at once, whatever its age; a clone of the machine id is not', () => {
    // This machine, booted an hour ago; the owner wrote its record under another boot id before that.
    const parts = { hostname: 'box', machineId: 'm'.repeat(32), pidNamespace: '4026531836' };
    const booted = now - HOUR;
    const thisBoot = { ...parts, bootId: 'b2', id: hostIdOf({ ...parts, bootId: 'b2' }) };
    const here = { ...thisBoot, stableId: stableHostIdOf(thisBoot), bootedAt: booted };
    const before = { ...parts, bootId: 'b1' };
    const owner: {
      pid: number;
      hostname: string;
      hostId: string;
      stableHostId: string;
      processStartTime: string;
      createdAt: number;
      heartbeatAt?: number;
    } = {
      pid: 4242,
      hostname: 'box',
      hostId: hostIdOf(before),
      stableHostId: stableHostIdOf(before) as string,
      processStartTime: '1',
      createdAt: booted - 60_000,
    };
    const judge = (o: typeof owner, lease: 'none' | 'held' | 'expired' | 'settling' = 'none') =>
      judgeLiveness(o, { now, maxAgeMs: 12 * HOUR, host: here, lease });
    expect(owner.stableHostId).toBe(here.stableId);
    expect(judge(owner)).toMatchObject({ liveness: 'dead', thisHost: false });
    expect(judge(owner).reason).toMatch(/^from an earlier boot of this machine/);
    expect(judge(owner, 'settling').liveness).toBe('dead');
    // A held lease means someone renews it: whatever the ids say, that owner lives.
    expect(judge(owner, 'held').liveness).toBe('live');
    // A sign of life after this boot began cannot be from an earlier boot: a cloned machine id elsewhere.
    expect(judge({ ...owner, heartbeatAt: booted + 1 }).liveness).toBe('unknown');
    // Another machine (other machine id or hostname), or a record without the stable id: the age limit decides.
    const other = { ...before, machineId: 'o'.repeat(32) };
    expect(judge({ ...owner, stableHostId: stableHostIdOf(other) as string }).liveness).toBe('unknown');
    const { stableHostId: _s, ...older } = owner;
    expect(judgeLiveness(older, { now, maxAgeMs: 12 * HOUR, host: here, lease: 'none' }).liveness).toBe(
      'unknown',
    );
    // Without a machine id nothing tells two machines apart: no stable id at all.
    expect(stableHostIdOf({ ...parts, machineId: null, bootId: 'b2' })).toBeNull();
  });

  it.skipIf(host.machineId === null)('this process has a stable id and a boot time on Linux', () => {
    expect(host.stableId).toMatch(/^[0-9a-f]{32}$/);
    expect(host.bootedAt).toBeGreaterThan(0);
    expect(host.bootedAt).toBeLessThan(Date.now());
  });
});
