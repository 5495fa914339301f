// (a) The etcd store against its physical floor: 8 processes × N
// register+unregister cycles at once (ours) vs. 8 processes × N pairs of bare
// etcd transactions of the same shape (compare the record's modRevision, put
// a record-sized value: the floor), interleaved round by round so each
// round's ratio sees the same machine load. Every write of ours is counted
// on the server (the record key's version: 0 lost).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Etcd3 } from 'etcd3';
import { median } from './shared.js';

export interface FleetRun {
  readonly cyclesPerSec: number;
  readonly lost: number;
  /** CPU time of one process per cycle (µs), median over the processes. */
  readonly cpuPerCycleUs: number;
}

export interface FleetComparison {
  readonly floor: FleetRun[];
  readonly store: FleetRun[];
  /** Per round: store cycles/s ÷ floor cycles/s. */
  readonly ratios: number[];
  readonly writes: number;
}

/** `processes` cycler processes started together; wall time from "go" to the last "done". */
async function fleet(
  raw: Etcd3,
  endpoints: readonly string[],
  mode: 'floor' | 'store',
  prefix: string,
  processes: number,
  cycles: number,
): Promise<FleetRun> {
  const script = fileURLToPath(new URL('./cycler.ts', import.meta.url));
  const children = Array.from({ length: processes }, (_, i) =>
    spawn(
      process.execPath,
      [
        '--conditions=@core/source',
        '--import',
        'tsx',
        script,
        mode,
        endpoints.join(','),
        prefix,
        String(cycles),
        `p${i}`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'], env: process.env },
    ),
  );
  const exits = children.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  const readers = children.map((child) => {
    const queue: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    });
    return () =>
      queue.length > 0
        ? Promise.resolve(queue.shift() as string)
        : new Promise<string>((r) => waiters.push(r));
  });
  try {
    const sessions = (await Promise.all(readers.map((next) => next()))).map(
      (line) => line.split(' ')[1] as string,
    );
    const started = process.hrtime.bigint();
    for (const child of children) child.stdin.write('go\n');
    const done = await Promise.all(readers.map((next) => next()));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuPerCycleUs = median(done.map((line) => Number(line.split(' ')[2])));
    let lost = 0;
    if (mode === 'store') {
      for (const id of sessions) {
        // One put registered the permanent VM, then two per cycle: the key's version counts every one.
        const [kv] = (await raw.get(`${prefix}s/${id}`).exec()).kvs;
        lost += 1 + 2 * cycles - Number(kv?.version ?? 0);
      }
    }
    for (const child of children) child.stdin.write('finish\n');
    await Promise.all(exits);
    return { cyclesPerSec: (processes * cycles) / seconds, lost, cpuPerCycleUs };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** `rounds` rounds of floor and store fleets, back to back, alternating which goes first. */
export async function compareFleets(
  raw: Etcd3,
  endpoints: readonly string[],
  options: { processes: number; cycles: number; rounds: number },
): Promise<FleetComparison> {
  const { processes, cycles, rounds } = options;
  const floor: FleetRun[] = [];
  const store: FleetRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const runFloor = async () =>
      floor.push(await fleet(raw, endpoints, 'floor', `floor-${round}/`, processes, cycles));
    const runStore = async () =>
      store.push(await fleet(raw, endpoints, 'store', `fleet-${round}/`, processes, cycles));
    if (round % 2 === 0) {
      await runFloor();
      await runStore();
    } else {
      await runStore();
      await runFloor();
    }
  }
  const ratios = store.map((run, i) => run.cyclesPerSec / (floor[i] as FleetRun).cyclesPerSec);
  return { floor, store, ratios, writes: processes * cycles * 2 * rounds };
}
