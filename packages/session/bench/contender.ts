// One of 8 processes hammering the same registry with N register+unregister
// cycles, started together on a barrier file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileRegistryStore, type SessionRecord } from '../src/index.js';
import { naiveUpdate } from './naive.js';
import { entry } from './shared.js';

const [mode, dir, tag, countText, barrier] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const count = Number(countText);
const cell = new Int32Array(new SharedArrayBuffer(4));
const store =
  mode === 'store'
    ? new FileRegistryStore({ dir, lockTimeoutMs: 60_000, fsync: process.env['SESSION_BENCH_FSYNC'] !== '0' })
    : null;
const naiveFile = join(dir, 'naive.json');
process.stdout.write('ready\n');
while (!existsSync(barrier)) Atomics.wait(cell, 0, 0, 1);
// Each cycle registers a scratch resource and bumps this process's counter in the
// same update, then unregisters the scratch resource. The registry stays small
// (one entry per process); an update another process overwrites shows up as a
// counter that ends below `count`.
function bump(current: SessionRecord | undefined, i: number): SessionRecord {
  const base = current ?? entry(tag);
  const scratch = { kind: 'process', id: `scratch-${i}`, pid: 1, registeredAt: Date.now() };
  return {
    ...base,
    metadata: { count: Number(base.metadata['count'] ?? 0) + 1 },
    resources: [...base.resources, scratch],
  };
}
function drop(current: SessionRecord | undefined, i: number): SessionRecord | undefined {
  return current && { ...current, resources: current.resources.filter((r) => r.id !== `scratch-${i}`) };
}
for (let i = 0; i < count; i++) {
  if (store) {
    await store.update((draft) => {
      draft.sessions[tag] = bump(draft.sessions[tag], i);
    });
    await store.update((draft) => {
      const next = drop(draft.sessions[tag], i);
      if (next) draft.sessions[tag] = next;
    });
  } else {
    await naiveUpdate(naiveFile, (r) => {
      r[tag] = bump(r[tag] as SessionRecord | undefined, i);
    });
    await naiveUpdate(naiveFile, (r) => {
      const next = drop(r[tag] as SessionRecord | undefined, i);
      if (next) r[tag] = next;
    });
  }
}
process.stdout.write('done\n');
