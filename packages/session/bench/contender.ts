// One of 8 processes doing N register+unregister cycles at once, started on a
// barrier file. Modes: `store` (this package: registerResource +
// unregisterResource on its own session), `floor` (the physical floor: two
// bare durable atomic writes of a record-sized file per cycle: temp + write +
// fsync + rename + directory fsync), `naive` (the baseline: read-modify-write
// of one shared file in place, no lock).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchRecord } from '@tooling/session-bench';
import { createSessionManager } from '../src/index.js';
import { durableWrite } from './durable-write.js';
import { naiveUpdate } from './naive.js';

const [mode, dir, tag, countText, barrier] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const count = Number(countText);
const cell = new Int32Array(new SharedArrayBuffer(4));
const session = mode === 'store' ? createSessionManager({ dir }) : null;
if (session) await session.registerResource({ kind: 'process', id: 'base', pid: process.pid });
const record = JSON.stringify(benchRecord(tag));

process.stdout.write('ready\n');
while (!existsSync(barrier)) Atomics.wait(cell, 0, 0, 1);
let done = 0;
for (let i = 0; i < count; i++) {
  if (session) {
    await session.registerResource({ kind: 'item', id: `scratch-${i}`, metadata: { i } });
    await session.unregisterResource('item', `scratch-${i}`);
  } else if (mode === 'floor') {
    durableWrite(dir, join(dir, `${tag}.json`), record);
    durableWrite(dir, join(dir, `${tag}.json`), record);
  } else {
    await naiveUpdate(join(dir, 'naive.json'), (r) => {
      const current = (r[tag] as { count?: number } | undefined) ?? {};
      r[tag] = { ...current, count: (current.count ?? 0) + 1 };
    });
    await naiveUpdate(join(dir, 'naive.json'), () => {});
  }
  done++;
}
// The count goes into the process's own record: the parent sums what it finds.
if (session)
  await session.registerResource({
    kind: 'process',
    id: 'base',
    pid: process.pid,
    metadata: { count: done },
  });
process.stdout.write('done\n');
