import { describe, expect, it } from 'vitest';
import { SystemManagerError } from '../errors.js';
import { RESOURCE_BACKOFF, RestartPolicy, resourceErrno } from './restart-policy.js';

function policy(overrides: Partial<ConstructorParameters<typeof RestartPolicy>[0]> = {}) {
  let now = 1_000_000;
  const p = new RestartPolicy(
    {
      restart: 'on-failure',
      maxRestarts: 5,
      restartWindowMs: 60_000,
      backoff: { initialMs: 100, maxMs: 30_000, resetAfterMs: 10_000 },
      ...overrides,
    },
    () => now,
  );
  return { p, advance: (ms: number) => (now += ms), at: () => now };
}
const crash = { code: 1, signal: null, at: 0 };

describe('RestartPolicy', () => {
  it('backs off exponentially from initialMs, capped at maxMs', () => {
    const { p, advance } = policy({ maxRestarts: 100, restartWindowMs: 1 });
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      const d = p.decide(crash);
      if (d.action === 'restart') delays.push(d.delayMs);
      advance(10);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]);
  });

  it('resets the backoff after the service was healthy for resetAfterMs, not before', () => {
    const { p, advance } = policy();
    p.decide(crash);
    p.decide(crash);
    p.markHealthy();
    advance(9_000);
    expect(p.decide(crash)).toMatchObject({ delayMs: 400 });
    p.markHealthy();
    advance(10_000);
    expect(p.decide(crash)).toMatchObject({ action: 'restart', delayMs: 100 });
  });

  it('fails after maxRestarts within the window; restarts outside the window do not count', () => {
    const { p, advance } = policy({ maxRestarts: 2, restartWindowMs: 1_000 });
    expect(p.decide(crash).action).toBe('restart');
    expect(p.decide(crash).action).toBe('restart');
    expect(p.decide(crash)).toMatchObject({
      action: 'fail',
      reason: expect.stringContaining('2 restarts within 1000 ms'),
    });
    advance(1_001);
    expect(p.decide(crash).action).toBe('restart');
  });

  it('on-failure: a clean exit stays down, a signal or non-zero code restarts, a liveness failure restarts', () => {
    const { p } = policy();
    expect(p.decide({ code: 0, signal: null, at: 0 }).action).toBe('stay-down');
    expect(p.decide({ code: null, signal: 'SIGKILL', at: 0 }).action).toBe('restart');
    expect(p.decide(undefined).action).toBe('restart');
  });

  it('always restarts a clean exit; never restarts nothing', () => {
    expect(policy({ restart: 'always' }).p.decide({ code: 0, signal: null, at: 0 }).action).toBe('restart');
    expect(policy({ restart: 'never' }).p.decide(crash).action).toBe('stay-down');
  });

  it('spawns failing for want of resources back off from 100 ms to 5 s, and start over once a spawn succeeds', () => {
    const { p } = policy();
    const delays = Array.from({ length: 8 }, () => p.resourceError().delayMs);
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    expect(RESOURCE_BACKOFF).toEqual({ initialMs: 100, maxMs: 5_000 });
    p.spawned();
    expect(p.resourceError()).toEqual({ delayMs: 100, attempt: 1 });
  });

  it('spawns failing for want of resources use up neither maxRestarts nor the crash backoff', () => {
    const { p } = policy({ maxRestarts: 1, restartWindowMs: 60_000 });
    for (let i = 0; i < 50; i++) p.resourceError();
    expect(p.decide(crash)).toEqual({ action: 'restart', delayMs: 100, attempt: 1 });
    for (let i = 0; i < 50; i++) p.resourceError();
    // The one crash in the window is what counts: the next crash fails the service.
    expect(p.decide(crash).action).toBe('fail');
  });
});

describe('resourceErrno', () => {
  const errno = (code: string) => Object.assign(new Error(`spawn node ${code}`), { code });

  it('finds EMFILE, ENFILE and EAGAIN, also as the cause of the supervisor error wrapping them', () => {
    expect(resourceErrno(errno('EMFILE'))).toBe('EMFILE');
    expect(resourceErrno(errno('ENFILE'))).toBe('ENFILE');
    const wrapped = new SystemManagerError('E_SERVICE_FAILED', 'cannot start node', {
      cause: errno('EAGAIN'),
    });
    expect(resourceErrno(wrapped)).toBe('EAGAIN');
  });

  it('is undefined for every other failure: a missing command is the service config, not the machine', () => {
    expect(resourceErrno(errno('ENOENT'))).toBeUndefined();
    expect(resourceErrno(errno('EACCES'))).toBeUndefined();
    expect(
      resourceErrno(new SystemManagerError('E_SERVICE_FAILED', 'x', { cause: errno('ENOENT') })),
    ).toBeUndefined();
    expect(resourceErrno('EMFILE')).toBeUndefined();
    expect(resourceErrno(undefined)).toBeUndefined();
  });
});
