import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSessionStore, listSessions } from '../src/index.js';
import { type Fixture, freshDir, killHard, runFixture } from './helpers.js';

const started: Fixture[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => killHard(f)));
});
function run(name: string, args: string[]): Fixture {
  const fixture = runFixture(name, args);
  started.push(fixture);
  return fixture;
}

describe('16 processes registering at the same instant', () => {
  it('loses no entry over 5 rounds', { timeout: 90_000 }, async () => {
    const dir = freshDir();
    const processes = 16;
    const rounds = 5;
    const barrier = join(dir, '..', 'barrier');
    const fixtures = Array.from({ length: processes }, (_, i) =>
      run('register-rounds', [dir, barrier, String(rounds), `w${i}`]),
    );
    for (let round = 0; round < rounds; round++) {
      // Everyone is waiting on the barrier before it appears, so they all register at once.
      await Promise.all(fixtures.map((f) => f.line((l) => l === JSON.stringify({ ready: round }))));
      writeFileSync(`${barrier}-${round}`, '');
      await Promise.all(fixtures.map((f) => f.line((l) => l === JSON.stringify({ done: round }))));
    }
    const sessionIds = await Promise.all(
      fixtures.map(async (f) => JSON.parse(await f.line()).sessionId as string),
    );
    await Promise.all(fixtures.map((f) => f.exited));
    const listed = await listSessions({ dir });
    expect(listed.map((l) => l.record.sessionId).sort()).toEqual([...sessionIds].sort());
    const ids = listed.flatMap((l) => l.record.resources.map((r) => r.id));
    const expected = Array.from({ length: processes }, (_, i) =>
      Array.from({ length: rounds }, (_, r) => `w${i}-r${r}`),
    ).flat();
    expect(ids.sort()).toEqual(expected.sort());
  });
});

describe('claimants of one port', () => {
  async function race(dir: string, count: number): Promise<{ winners: string[]; fixtures: Fixture[] }> {
    const barrier = join(dir, '..', `go-${Math.random()}`);
    const fixtures = Array.from({ length: count }, () => run('claim', [dir, barrier, '8080']));
    await Promise.all(fixtures.map((f) => f.line((l) => l.includes('ready'))));
    writeFileSync(barrier, '');
    const results = await Promise.all(
      fixtures.map(
        async (f) =>
          JSON.parse(await f.line((l) => l.includes('claimed'))) as { claimed: string[]; sessionId: string },
      ),
    );
    return { winners: results.filter((r) => r.claimed.length > 0).map((r) => r.sessionId), fixtures };
  }

  it('exactly one of 8 wins; when the winner dies, exactly one of the next 8 takes it over', {
    timeout: 90_000,
  }, async () => {
    const dir = freshDir();
    const first = await race(dir, 8);
    expect(first.winners).toHaveLength(1);
    const store = new FileSessionStore({ dir });
    expect((await store.listClaims('port')).map((c) => c.holder.sessionId)).toEqual(first.winners);
    // Every claimant dies (the winner with SIGKILL, holding its claim).
    await Promise.all(first.fixtures.map((f) => killHard(f)));
    const second = await race(dir, 8);
    expect(second.winners).toHaveLength(1);
    expect(second.winners[0]).not.toBe(first.winners[0]);
    expect((await store.listClaims('port')).map((c) => c.holder.sessionId)).toEqual(second.winners);
  });
});
