// The Redis store against its physical floor, measured side by side in one
// run on one redis-server (started here on a free loopback port, no
// persistence), with the compared cases interleaved round by round:
// 1. 8 processes × N register+unregister cycles at once (ours) vs. 8
//    processes × N bare SET+DEL pairs of a record-sized value (the floor);
//    every write of ours is counted on the server (0 lost).
// 2. Cost per cycle in one process with 10 vs 5,000 live sessions in the store.
// 3. With a replica: the store with `replicasToAck: 1` vs SET + WAIT 1 + DEL + WAIT 1.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createSessionManager } from '@core/session';
import {
  type FleetRun,
  benchRecord as fleetRecord,
  fmt,
  freshDir,
  median,
  runFleet,
} from '@tooling/session-bench';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '../src/index.js';
import { startRedisServer } from '../test/redis-server.js';

const PROCESSES = 8;
const CYCLES = Number(process.env['SESSION_REDIS_BENCH_CYCLES'] ?? 200);
const ROUNDS = Number(process.env['SESSION_REDIS_BENCH_ROUNDS'] ?? 9);
const FEW = 10;
const MANY = 5_000;

const server = await startRedisServer();
const raw = new Redis(server.url);
const benchRecord = (sessionId: string) => fleetRecord(sessionId, 'bench-host-identity');

/** `count` live sessions of another host, in the store's own layout (record hash, lease, index). */
async function seed(prefix: string, count: number, leased = true): Promise<void> {
  await raw.set(`${prefix}epoch`, randomUUID(), 'NX');
  const epoch = (await raw.get(`${prefix}epoch`)) as string;
  for (let from = 0; from < count; from += 500) {
    const pipe = raw.pipeline();
    for (let i = from; i < Math.min(count, from + 500); i++) {
      const id = `seed-${i}`;
      pipe.hset(
        `${prefix}s:${id}`,
        'ver',
        `${epoch}:${randomUUID()}:1`,
        'rec',
        JSON.stringify(benchRecord(id)),
      );
      if (leased) pipe.set(`${prefix}l:${id}`, randomUUID(), 'PX', 600_000);
      pipe.sadd(`${prefix}sessions`, id);
    }
    await pipe.exec();
  }
}

/** 8 cycler processes started together; wall time from "go" to the last "done". */
async function fleet(mode: 'floor' | 'store', prefix: string): Promise<FleetRun> {
  return runFleet({
    script: fileURLToPath(new URL('./cycler.ts', import.meta.url)),
    argsOf: (i) => [mode, server.url, prefix, String(CYCLES), `p${i}`],
    processes: PROCESSES,
    cycles: CYCLES,
    lostOf: async (sessions) => {
      if (mode !== 'store') return 0;
      let lost = 0;
      for (const id of sessions) {
        // One write registered the permanent VM, then two per cycle: the counter shows every one.
        const [ver, rec] = await raw.hmget(`${prefix}s:${id}`, 'ver', 'rec');
        const writes = Number(/:(\d+)$/.exec(ver ?? '')?.[1] ?? 0);
        lost += 1 + 2 * CYCLES - writes;
        const resources = (JSON.parse(rec ?? '{"resources":[]}') as { resources: unknown[] }).resources;
        if (resources.length !== 1) lost += Math.abs(resources.length - 1);
      }
      return lost;
    },
  });
}

/** A manager whose store holds `live` other live sessions. */
async function managerWith(live: number) {
  const prefix = `{bench-${live}-${randomUUID().slice(0, 8)}}:`;
  await seed(prefix, live);
  const store = new RedisSessionStore({ url: server.url, keyPrefix: prefix });
  const manager = createSessionManager({ dir: freshDir(), store });
  await manager.registerResource({ kind: 'vm', id: 'vm-bench', zone: 'europe-west4-a' });
  return { prefix, store, manager };
}

async function cycles(manager: ReturnType<typeof createSessionManager>, n: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await manager.registerResource({ kind: 'process', id: 'api', pid: 4243, processStartTime: '123460' });
    await manager.unregisterResource('process', 'api');
  }
  return Number(process.hrtime.bigint() - started) / 1e6 / n;
}

async function floorPairs(n: number): Promise<number> {
  const value = JSON.stringify(benchRecord('floor'));
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await raw.set('{floor}:one', value);
    await raw.del('{floor}:one');
  }
  return Number(process.hrtime.bigint() - started) / 1e6 / n;
}

try {
  process.stderr.write(`  ${PROCESSES} processes × ${CYCLES} cycles, ${ROUNDS} interleaved rounds …\n`);
  const floorRuns: FleetRun[] = [];
  const storeRuns: FleetRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Back to back, alternating which goes first: each round's ratio sees the same machine load.
    if (round % 2 === 0) {
      floorRuns.push(await fleet('floor', `{floor-${round}}:`));
      storeRuns.push(await fleet('store', `{fleet-${round}}:`));
    } else {
      storeRuns.push(await fleet('store', `{fleet-${round}}:`));
      floorRuns.push(await fleet('floor', `{floor-${round}}:`));
    }
  }
  const floorRate = median(floorRuns.map((r) => r.cyclesPerSec));
  const storeRate = median(storeRuns.map((r) => r.cyclesPerSec));
  const lost = storeRuns.reduce((sum, r) => sum + r.lost, 0);
  const ratios = storeRuns.map((run, i) => run.cyclesPerSec / (floorRuns[i] as FleetRun).cyclesPerSec);
  const ratio = median(ratios); // median of the per-round ratios
  const ratioRange = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;

  process.stderr.write(`  one process, ${FEW} vs ${fmt(MANY)} live sessions …\n`);
  const few = await managerWith(FEW);
  const many = await managerWith(MANY);
  const perCycle = { floor: [] as number[], few: [] as number[], many: [] as number[] };
  await cycles(few.manager, 50); // warm-up
  await cycles(many.manager, 50);
  for (let round = 0; round < 7; round++) {
    // Alternate which case goes first, so neither always runs right after the floor.
    perCycle.floor.push(await floorPairs(200));
    if (round % 2 === 0) {
      perCycle.few.push(await cycles(few.manager, 100));
      perCycle.many.push(await cycles(many.manager, 100));
    } else {
      perCycle.many.push(await cycles(many.manager, 100));
      perCycle.few.push(await cycles(few.manager, 100));
    }
  }
  const listStarted = process.hrtime.bigint();
  const listed = await many.store.listSessions();
  const listMs = Number(process.hrtime.bigint() - listStarted) / 1e6;
  process.stderr.write('  reaping 1,000 dead sessions with a VM each …\n');
  const reapPrefix = `{reap-${randomUUID().slice(0, 8)}}:`;
  await seed(reapPrefix, 1_000, false); // another host's sessions whose leases expired
  const reaperStore = new RedisSessionStore({ url: server.url, keyPrefix: reapPrefix, settleMs: 0 });
  const reaper = createSessionManager({ dir: freshDir(), store: reaperStore });
  const reapStarted = process.hrtime.bigint();
  const reaped = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
  const reapMs = Number(process.hrtime.bigint() - reapStarted) / 1e6;
  await reaperStore.close();
  const fewMs = median(perCycle.few);
  const manyMs = median(perCycle.many);
  for (const { manager, store } of [few, many]) {
    await manager.unregisterSession();
    await store.close();
  }

  console.log(
    `### @core/session-redis — ${PROCESSES} processes × ${CYCLES} register+unregister cycles at once (median of ${ROUNDS} interleaved rounds; × floor = median of the per-round ratios)\n`,
  );
  const cpu = (runs: FleetRun[]) => fmt(median(runs.map((r) => r.cpuPerCycleUs)));
  console.log('| case | cycles/s (all processes) | × floor | CPU µs / cycle (one process) | lost |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(
    `| floor: bare SET + DEL of a record-sized value, ${PROCESSES} processes (floor) | ${fmt(floorRate)} | 1.00 | ${cpu(floorRuns)} | — |`,
  );
  console.log(
    `| RedisSessionStore: manager.registerResource + unregisterResource | ${fmt(storeRate)} | ${ratio.toFixed(2)} (rounds ${ratioRange}) | ${cpu(storeRuns)} | ${lost} of ${PROCESSES * CYCLES * 2 * ROUNDS} writes |`,
  );
  console.log('');
  console.log(
    `### @core/session-redis — one process, cost per register+unregister cycle by live sessions in the store (median of 7 interleaved rounds)\n`,
  );
  console.log('| case | ms / cycle | × 10 sessions |');
  console.log('|---|---:|---:|');
  console.log(`| floor: bare SET + DEL pair, one process | ${median(perCycle.floor).toFixed(3)} | — |`);
  console.log(`| RedisSessionStore, ${FEW} live sessions | ${fewMs.toFixed(3)} | 1.00 |`);
  console.log(
    `| RedisSessionStore, ${fmt(MANY)} live sessions | ${manyMs.toFixed(3)} | ${(manyMs / fewMs).toFixed(2)} |`,
  );
  console.log(
    `| listSessions() of ${fmt(listed.length)} sessions (status, reaping) | ${listMs.toFixed(1)} (one call) | — |`,
  );
  console.log(
    `| reapDeadSessions: ${fmt(reaped.removed.length)} dead sessions, ${fmt(reaped.cleaned.length)} resources, cleanup \`{ ok: true }\` | ${fmt(reapMs)} (one call) | — |`,
  );
  console.log('');

  // Writes acknowledged by a replica (WAIT 1): the store's cost against the same two writes, each followed by WAIT 1.
  process.stderr.write('  one process, with a replica: every write waits for it (WAIT 1) …\n');
  const replica = await startRedisServer({ replicaOf: server.port });
  try {
    // Listed as connected while the initial sync still runs; WAIT counts it only once it is online.
    while (!/slave0:.*state=online/.test(await raw.info('replication')))
      await new Promise((r) => setTimeout(r, 50));
    await raw.set('{floor}:wait', 'warm-up');
    if ((await raw.wait(1, 10_000)) < 1) throw new Error('the bench replica never acknowledged a write');
    const waitPrefix = `{wait-${randomUUID().slice(0, 8)}}:`;
    const waitStore = new RedisSessionStore({ url: server.url, keyPrefix: waitPrefix, replicasToAck: 1 });
    const waitManager = createSessionManager({ dir: freshDir(), store: waitStore });
    await waitManager.registerResource({ kind: 'vm', id: 'vm-bench', zone: 'europe-west4-a' });
    const value = JSON.stringify(benchRecord('floor'));
    const waitFloor = async (n: number) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        await raw.set('{floor}:wait', value);
        await raw.wait(1, 1_000);
        await raw.del('{floor}:wait');
        await raw.wait(1, 1_000);
      }
      return Number(process.hrtime.bigint() - started) / 1e6 / n;
    };
    const waited = { floor: [] as number[], store: [] as number[], plain: [] as number[] };
    await cycles(waitManager, 50);
    for (let round = 0; round < 7; round++) {
      if (round % 2 === 0) {
        waited.floor.push(await waitFloor(100));
        waited.store.push(await cycles(waitManager, 100));
      } else {
        waited.store.push(await cycles(waitManager, 100));
        waited.floor.push(await waitFloor(100));
      }
      waited.plain.push(await floorPairs(100));
    }
    await waitManager.unregisterSession();
    await waitStore.close();
    const [waitFloorMs, waitStoreMs, plainMs] = [
      median(waited.floor),
      median(waited.store),
      median(waited.plain),
    ];
    console.log(
      '### @core/session-redis — one process, every write acknowledged by a replica (`replicasToAck: 1`; median of 7 interleaved rounds)\n',
    );
    console.log('| case | ms / cycle | × its floor |');
    console.log('|---|---:|---:|');
    console.log(`| floor without replica wait: SET + DEL | ${plainMs.toFixed(3)} | — |`);
    console.log(`| floor: SET + WAIT 1 + DEL + WAIT 1 | ${waitFloorMs.toFixed(3)} | 1.00 |`);
    console.log(
      `| RedisSessionStore with replicasToAck 1: registerResource + unregisterResource | ${waitStoreMs.toFixed(3)} | ${(waitFloorMs / waitStoreMs).toFixed(2)} (throughput) |`,
    );
    console.log(
      `\nWAIT 1 costs ${(waitFloorMs - plainMs).toFixed(3)} ms per cycle at the floor (two waits), ${(waitStoreMs - fewMs).toFixed(3)} ms for the store.\n`,
    );
  } finally {
    await replica.dispose();
  }
  console.log('| goal | measured | met |');
  console.log('|---|---|:---:|');
  console.log(
    `| ${PROCESSES} processes: ≥ 0.6× the SET+DEL floor | ${ratio.toFixed(2)}× | ${ratio >= 0.6 ? 'yes' : 'NO'} |`,
  );
  console.log(`| 0 writes lost | ${lost} | ${lost === 0 ? 'yes' : 'NO'} |`);
  console.log(
    `| per cycle at ${fmt(MANY)} live sessions within 2× of ${FEW} | ${(manyMs / fewMs).toFixed(2)}× | ${manyMs / fewMs <= 2 ? 'yes' : 'NO'} |`,
  );
  console.log(
    `| 1,000 dead sessions reaped in under 3 s | ${(reapMs / 1000).toFixed(2)} s | ${reapMs < 3000 && reaped.removed.length === 1_000 ? 'yes' : 'NO'} |`,
  );
} finally {
  raw.disconnect();
  await server.dispose();
}
