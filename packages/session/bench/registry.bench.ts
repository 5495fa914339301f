// Register+unregister cycles per second: the original's unlocked in-place
// read-modify-write vs. this package's store (lock + atomic write), in one
// process; then 8 processes at once, counting entries each approach loses.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatNs, runBenchTable } from '@tooling/bench';
import { createSessionManager, FileRegistryStore } from '../src/index.js';
import { loadNaive, naiveUpdate } from './naive.js';
import { entry } from './shared.js';

const PROCESSES = 8;
const CYCLES = Number(process.env['SESSION_BENCH_CYCLES'] ?? 100);

function freshDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'session-bench-')), 'sessions');
}

/** Seeds 8 other sessions so every cycle parses and writes a realistic registry. */
async function seeded(store: FileRegistryStore): Promise<void> {
  await store.update((draft) => {
    for (let i = 0; i < 8; i++) draft.sessions[`seed-${i}`] = entry(`seed-${i}`);
  });
}

async function contention(
  mode: 'naive' | 'store',
): Promise<{ lost: number; expected: number; cyclesPerSec: number }> {
  const dir = freshDir();
  new FileRegistryStore({ dir }); // creates the private dir
  const barrier = join(dir, '..', 'go');
  const script = fileURLToPath(new URL('./contender.ts', import.meta.url));
  const children = Array.from({ length: PROCESSES }, (_, i) =>
    spawn(
      process.execPath,
      ['--conditions=@core/source', '--import', 'tsx', script, mode, dir, `p${i}`, String(CYCLES), barrier],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  const exits = children.map((c) => new Promise((r) => c.once('exit', r)));
  const lines = children.map((child) => {
    const queue: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    });
    return () =>
      queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<string>((r) => waiters.push(r));
  });
  await Promise.all(lines.map((next) => next()));
  const start = process.hrtime.bigint();
  writeFileSync(barrier, '');
  await Promise.all(lines.map((next) => next()));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(exits);
  const sessions: Record<string, { metadata?: { count?: number } }> =
    mode === 'store'
      ? new FileRegistryStore({ dir }).loadSync().sessions
      : ((await loadNaive(join(dir, 'naive.json'))) as Record<string, { metadata?: { count?: number } }>);
  let counted = 0;
  for (let p = 0; p < PROCESSES; p++) counted += sessions[`p${p}`]?.metadata?.count ?? 0;
  const lost = PROCESSES * CYCLES - counted;
  return { lost, expected: PROCESSES * CYCLES, cyclesPerSec: (PROCESSES * CYCLES) / seconds };
}

process.stderr.write(`  ${PROCESSES} processes × ${CYCLES} cycles, naive …\n`);
const naive = await contention('naive');
process.stderr.write(`  ${PROCESSES} processes × ${CYCLES} cycles, store …\n`);
const ours = await contention('store');

const naiveDir = freshDir();
const naiveFile = join(naiveDir, 'naive.json');
new FileRegistryStore({ dir: naiveDir });
await naiveUpdate(naiveFile, (r) => {
  for (let i = 0; i < 8; i++) r[`seed-${i}`] = entry(`seed-${i}`);
});
const durable = new FileRegistryStore({ dir: freshDir() });
await seeded(durable);
const noFsync = new FileRegistryStore({ dir: freshDir(), fsync: false });
await seeded(noFsync);
const managerDir = freshDir();
await seeded(new FileRegistryStore({ dir: managerDir }));
const manager = createSessionManager({ dir: managerDir });

const NAIVE = 'naive: readFile + JSON.parse + writeFile in place, no lock';
const STORE = 'FileRegistryStore.update (lock + temp + fsync + rename)';
let n = 0;
await runBenchTable({
  title: '@core/session — one register+unregister cycle (registry of 9 sessions), one process',
  batchMs: 200,
  rounds: 9,
  cases: [
    {
      name: NAIVE,
      floor: true,
      fn: async () => {
        const id = `x${n++}`;
        await naiveUpdate(naiveFile, (r) => {
          r[id] = entry(id);
        });
        await naiveUpdate(naiveFile, (r) => {
          delete r[id];
        });
      },
    },
    {
      name: STORE,
      fn: async () => {
        const id = `x${n++}`;
        await durable.update((d) => {
          d.sessions[id] = entry(id);
        });
        await durable.update((d) => {
          delete d.sessions[id];
        });
      },
    },
    {
      name: 'FileRegistryStore.update, fsync: false (crash-safe, not power-loss-safe)',
      fn: async () => {
        const id = `x${n++}`;
        await noFsync.update((d) => {
          d.sessions[id] = entry(id);
        });
        await noFsync.update((d) => {
          delete d.sessions[id];
        });
      },
    },
    {
      name: 'manager.registerResource + unregisterResource (also writes the session file)',
      fn: async () => {
        await manager.registerResource({ kind: 'process', id: 'api', pid: 4243 });
        await manager.unregisterResource('process', 'api');
      },
    },
  ],
  goals: [
    {
      label: 'store ≥ ½ the naive throughput (one process)',
      check: (r) => {
        const ratio = r.get(NAIVE)!.nsPerOp / r.get(STORE)!.nsPerOp;
        return {
          ok: ratio >= 0.5,
          measured: `${(ratio * 100).toFixed(0)} % (${formatNs(r.get(STORE)!.nsPerOp)} per cycle)`,
        };
      },
    },
    {
      label: `store loses 0 of ${ours.expected} registrations, ${PROCESSES} processes at once`,
      check: () => ({ ok: ours.lost === 0, measured: `${ours.lost} lost` }),
    },
  ],
});

console.log(
  `### ${PROCESSES} processes × ${CYCLES} register+unregister cycles each, started on one barrier\n`,
);
console.log('| approach | registrations | registrations lost | cycles/s (all processes) |');
console.log('|---|---:|---:|---:|');
console.log(`| naive (original) | ${naive.expected} | ${naive.lost} | ${naive.cyclesPerSec.toFixed(0)} |`);
console.log(`| FileRegistryStore | ${ours.expected} | ${ours.lost} | ${ours.cyclesPerSec.toFixed(0)} |`);
manager.unregisterSessionSync();
