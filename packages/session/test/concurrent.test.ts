import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileRegistryStore } from '../src/index.js';
import { freshDir, runFixture } from './helpers.js';

describe('16 processes registering at the same instant', () => {
  it('loses no entry over 5 rounds', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const processes = 16;
    const rounds = 5;
    const barrier = join(dir, '..', 'barrier');
    const fixtures = Array.from({ length: processes }, (_, i) =>
      runFixture('register-rounds', [dir, barrier, String(rounds), `w${i}`]),
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

    const registry = new FileRegistryStore({ dir }).loadSync();
    expect(Object.keys(registry.sessions).sort()).toEqual([...sessionIds].sort());
    const ids = Object.values(registry.sessions).flatMap((s) => s.resources.map((r) => r.id));
    const expected = Array.from({ length: processes }, (_, i) =>
      Array.from({ length: rounds }, (_, r) => `w${i}-r${r}`),
    ).flat();
    expect(ids.sort()).toEqual(expected.sort());
  });
});
