// @core/session bench. Every compared case runs interleaved (floor, ours,
// floor, ours, …) in one run, so machine load hits both alike; medians are
// reported with the floor, ours and the ratio side by side.
//
// 1. 8 processes × 200 register+unregister cycles at once: the file store vs.
//    its physical floor (two bare durable atomic writes per cycle, 8 processes),
//    and the naive baseline: an unlocked read-modify-write of one shared file (which loses entries).
// 2. Per-cycle cost in one process with 10 vs 5,000 live sessions in the directory.
// 3. Reaping 1,000 dead sessions with a VM each and a `true` cleanup command; listing them.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatNs } from '@tooling/bench';
import { benchRecord, freshDir, lineReader } from '@tooling/session-bench';
import { createSessionManager, listSessions, readHostIdentity, type SessionRecord } from '../src/index.js';
import { durableWrite } from './durable-write.js';
import { loadNaive } from './naive.js';

const PROCESSES = 8;
const CYCLES = Number(process.env['SESSION_BENCH_CYCLES'] ?? 200);
const RUNS = Number(process.env['SESSION_BENCH_RUNS'] ?? 3);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[s.length >> 1] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const log = (line: string) => process.stderr.write(`  ${line}\n`);

// ---- 1. contention ------------------------------------------------------------------

async function contention(
  mode: 'naive' | 'store' | 'floor',
): Promise<{ lost: number; cyclesPerSec: number }> {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
  const nextLine = children.map((child) => lineReader(child.stdout));
  await Promise.all(nextLine.map((next) => next()));
  const start = process.hrtime.bigint();
  writeFileSync(barrier, '');
  await Promise.all(nextLine.map((next) => next()));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(exits);
  let counted = PROCESSES * CYCLES;
  if (mode === 'store') {
    counted = 0;
    for (const listing of await listSessions({ dir }))
      counted += Number(listing.record.resources.find((r) => r.id === 'base')?.metadata?.['count'] ?? 0);
  } else if (mode === 'naive') {
    const registry = (await loadNaive(join(dir, 'naive.json'))) as Record<string, { count?: number }>;
    counted = 0;
    for (let p = 0; p < PROCESSES; p++) counted += registry[`p${p}`]?.count ?? 0;
  }
  return { lost: PROCESSES * CYCLES - counted, cyclesPerSec: (PROCESSES * CYCLES) / seconds };
}

const rates: Record<'floor' | 'store', number[]> = { floor: [], store: [] };
let storeLost = 0;
for (let run = 0; run < RUNS; run++) {
  for (const mode of ['floor', 'store'] as const) {
    log(`${PROCESSES} processes × ${CYCLES} cycles, ${mode} (run ${run + 1}/${RUNS}) …`);
    const result = await contention(mode);
    rates[mode].push(result.cyclesPerSec);
    if (mode === 'store') storeLost += result.lost;
  }
}
log('naive (original) …');
const naive = await contention('naive');
const floorRate = median(rates.floor);
const storeRate = median(rates.store);

// ---- 2. per-cycle cost vs. number of sessions ------------------------------------------

function seed(dir: string, sessions: number): void {
  const host = readHostIdentity();
  mkdirSync(join(dir, 'sessions'), { recursive: true, mode: 0o700 });
  for (let i = 0; i < sessions; i++) {
    const record: SessionRecord = {
      ...benchRecord(`seed-${i}`),
      pid: process.pid,
      hostname: host.hostname,
      hostId: host.id,
    };
    writeFileSync(join(dir, 'sessions', `seed-${i}.json`), JSON.stringify(record), { mode: 0o600 });
  }
}
const small = freshDir();
seed(small, 10);
const large = freshDir();
seed(large, 5_000);
const floorDir = freshDir();
mkdirSync(floorDir, { recursive: true, mode: 0o700 });
const managers = { small: createSessionManager({ dir: small }), large: createSessionManager({ dir: large }) };
for (const m of Object.values(managers))
  await m.registerResource({ kind: 'process', id: 'base', pid: process.pid });
const text = JSON.stringify(benchRecord('floor'));
const cycleCases: { name: string; fn: () => Promise<void> | void }[] = [
  {
    name: 'floor: two bare durable atomic writes',
    fn: () => {
      durableWrite(floorDir, join(floorDir, 'f.json'), text);
      durableWrite(floorDir, join(floorDir, 'f.json'), text);
    },
  },
  {
    name: 'registerResource + unregisterResource, 10 live sessions',
    fn: async () => {
      await managers.small.registerResource({ kind: 'item', id: 'x' });
      await managers.small.unregisterResource('item', 'x');
    },
  },
  {
    name: 'registerResource + unregisterResource, 5,000 live sessions',
    fn: async () => {
      await managers.large.registerResource({ kind: 'item', id: 'x' });
      await managers.large.unregisterResource('item', 'x');
    },
  },
];
const samples = new Map<string, number[]>(cycleCases.map((c) => [c.name, []]));
const BATCH = 20;
for (let round = 0; round < 15; round++) {
  for (const c of cycleCases) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) await c.fn();
    samples.get(c.name)?.push(Number(process.hrtime.bigint() - start) / BATCH);
  }
}
const cycleNs = Object.fromEntries(cycleCases.map((c) => [c.name, median(samples.get(c.name) as number[])]));

// ---- 3. reaping and listing 1,000 dead sessions ------------------------------------------

function plantDead(): string {
  const dir = freshDir();
  const host = readHostIdentity();
  const dead = {
    ...benchRecord('x'),
    pid: 999_999_999,
    processStartTime: '1',
    hostname: host.hostname,
    hostId: host.id,
  };
  mkdirSync(join(dir, 'sessions'), { recursive: true, mode: 0o700 });
  for (let i = 0; i < 1_000; i++) {
    const record = {
      ...dead,
      sessionId: `dead-${i}`,
      vmId: `vm-${i}`,
      resources: [{ kind: 'vm', id: `vm-${i}`, zone: 'z', registeredAt: 0 }],
    };
    writeFileSync(join(dir, 'sessions', `dead-${i}.json`), JSON.stringify(record), { mode: 0o600 });
  }
  return dir;
}
const runTrue = () =>
  new Promise<{ ok: boolean; detail?: string }>((resolve) =>
    execFile('true', [], (error) =>
      resolve(error === null ? { ok: true } : { ok: false, detail: error.message }),
    ),
  );
async function spawnFloor(): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < 1_000) await runTrue();
    }),
  );
  return performance.now() - start;
}
async function reapThousand(
  cleanup: () => Promise<{ ok: boolean; detail?: string }>,
): Promise<{ reapMs: number; listMs: number; removed: number }> {
  const dir = plantDead();
  const listStart = performance.now();
  await listSessions({ dir });
  const listMs = performance.now() - listStart;
  const reaper = createSessionManager({ dir });
  const start = performance.now();
  const report = await reaper.reapDeadSessions({ concurrency: 8, cleanup });
  return { reapMs: performance.now() - start, listMs, removed: report.removed.length };
}
const reapRuns: { floor: number[]; ours: number[]; noop: number[]; list: number[]; removed: number } = {
  floor: [],
  ours: [],
  noop: [],
  list: [],
  removed: 0,
};
for (let run = 0; run < 2; run++) {
  log(`1,000 \`true\` commands, 8 at once (run ${run + 1}/2) …`);
  reapRuns.floor.push(await spawnFloor());
  log(`reaping 1,000 dead sessions with a \`true\` cleanup (run ${run + 1}/2) …`);
  const ours = await reapThousand(runTrue);
  reapRuns.ours.push(ours.reapMs);
  reapRuns.list.push(ours.listMs);
  reapRuns.removed = ours.removed;
  log(`reaping 1,000 dead sessions with an in-process cleanup (run ${run + 1}/2) …`);
  reapRuns.noop.push((await reapThousand(async () => ({ ok: true }))).reapMs);
}
const reaped = {
  reapMs: median(reapRuns.ours),
  listMs: median(reapRuns.list),
  removed: reapRuns.removed,
  floorMs: median(reapRuns.floor),
  noopMs: median(reapRuns.noop),
};

// ---- tables ------------------------------------------------------------------------------

const ratio = storeRate / floorRate;
const out: string[] = [];
out.push(
  `### ${PROCESSES} processes × ${CYCLES} register+unregister cycles at once (median of ${RUNS} interleaved runs)`,
  '',
);
out.push('| case | cycles/s (all processes) | × floor | entries lost |', '|---|---:|---:|---:|');
out.push(`| floor: two bare durable atomic writes per cycle | ${floorRate.toFixed(0)} | 1.00 | — |`);
out.push(
  `| file store (registerResource + unregisterResource) | ${storeRate.toFixed(0)} | ${ratio.toFixed(2)} | ${storeLost} of ${PROCESSES * CYCLES * RUNS} |`,
);
out.push(
  `| naive baseline: one shared file, read-modify-write in place, no lock | ${naive.cyclesPerSec.toFixed(0)} | ${(naive.cyclesPerSec / floorRate).toFixed(2)} | ${naive.lost} of ${PROCESSES * CYCLES} |`,
);
out.push(
  '',
  `Runs: floor ${rates.floor.map((r) => r.toFixed(0)).join(', ')}; store ${rates.store.map((r) => r.toFixed(0)).join(', ')} cycles/s.`,
  '',
);
const floorNs = cycleNs['floor: two bare durable atomic writes'] as number;
out.push(
  '### One process: cost of one register+unregister cycle (median of 15 interleaved batches of 20)',
  '',
);
out.push('| case | per cycle | × floor |', '|---|---:|---:|');
for (const c of cycleCases)
  out.push(
    `| ${c.name} | ${formatNs(cycleNs[c.name] as number)} | ${((cycleNs[c.name] as number) / floorNs).toFixed(2)} |`,
  );
const flat = (cycleNs[cycleCases[2]!.name] as number) / (cycleNs[cycleCases[1]!.name] as number);
out.push('', '### 1,000 dead sessions with a VM each (median of 2 interleaved runs)', '');
out.push('| case | time |', '|---|---:|');
out.push(`| floor: 1,000 \`true\` commands, 8 at once, no store | ${reaped.floorMs.toFixed(0)} ms |`);
out.push(
  `| reapDeadSessions, cleanup = \`true\` command, 8 at once (${reaped.removed} removed) | ${reaped.reapMs.toFixed(0)} ms |`,
);
out.push(`| reapDeadSessions, in-process cleanup (the store's own cost) | ${reaped.noopMs.toFixed(0)} ms |`);
out.push(`| listSessions() of 1,000 sessions (what \`status\` reads) | ${reaped.listMs.toFixed(0)} ms |`);
const goal = (label: string, measured: string, ok: boolean) =>
  out.push(`| ${label} | ${measured} | ${ok ? 'yes' : '**no**'} |`);
out.push('', '| goal | measured | met |', '|---|---|:---:|');
goal(`8 × ${CYCLES} cycles ≥ 0.8× the floor`, `${ratio.toFixed(2)}×`, ratio >= 0.8);
goal('0 entries lost', String(storeLost), storeLost === 0);
goal('cycle at 5,000 sessions within 2× of 10', `${flat.toFixed(2)}×`, flat <= 2);
goal(
  '1,000 VMs reaped with a `true` cleanup < 3 s',
  `${(reaped.reapMs / 1000).toFixed(2)} s (spawning the 1,000 commands alone: ${(reaped.floorMs / 1000).toFixed(2)} s)`,
  reaped.reapMs < 3000,
);
goal(
  "reaping's own cost for 1,000 sessions < 1 s",
  `${(reaped.noopMs / 1000).toFixed(2)} s`,
  reaped.noopMs < 1000,
);
goal('listing 1,000 sessions < 1 s', `${reaped.listMs.toFixed(0)} ms`, reaped.listMs < 1000);
console.log(out.join('\n'));
for (const m of Object.values(managers)) await m.unregisterSession();
