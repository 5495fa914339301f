import { describe, expect, it } from 'vitest';
import { RestartPolicy } from './restart-policy.js';

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
});
