import { describe, expect, it } from 'vitest';
import { deadPid } from '../test/helpers.js';
import { readHostIdentity } from './host.js';
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
});
