// The etcd store against its physical floor, measured side by side in one run
// on one 3-member etcd cluster (started here on free loopback ports, data in
// a temp dir removed at the end), with the compared cases interleaved round
// by round: 8 processes × N register+unregister cycles at once (ours) vs. 8
// processes × N pairs of bare etcd transactions of the same shape (compare
// the record's modRevision, put a record-sized value: the floor). Every write
// of ours is counted on the server (the record key's version: 0 lost).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startEtcdCluster } from '../test/etcd-cluster.js';

const PROCESSES = 8;
const CYCLES = Number(process.env['SESSION_ETCD_BENCH_CYCLES'] ?? 100);
const ROUNDS = Number(process.env['SESSION_ETCD_BENCH_ROUNDS'] ?? 5);

const cluster = await startEtcdCluster();
const raw = new Etcd3({ hosts: [...cluster.endpoints] });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface FleetRun {
  readonly cyclesPerSec: number;
  readonly lost: number;
  /** CPU time of one process per cycle (µs), median over the 8. */
  readonly cpuPerCycleUs: number;
}

/** 8 cycler processes started together; wall time from "go" to the last "done". */
async function fleet(mode: 'floor' | 'store', prefix: string): Promise<FleetRun> {
  const script = fileURLToPath(new URL('./cycler.ts', import.meta.url));
  const children = Array.from({ length: PROCESSES }, (_, i) =>
    spawn(
      process.execPath,
      [
        '--conditions=@core/source',
        '--import',
        'tsx',
        script,
        mode,
        cluster.endpoints.join(','),
        prefix,
        String(CYCLES),
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
        lost += 1 + 2 * CYCLES - Number(kv?.version ?? 0);
      }
    }
    for (const child of children) child.stdin.write('finish\n');
    await Promise.all(exits);
    return { cyclesPerSec: (PROCESSES * CYCLES) / seconds, lost, cpuPerCycleUs };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

try {
  process.stderr.write(
    `  ${PROCESSES} processes × ${CYCLES} cycles, ${ROUNDS} interleaved rounds on a 3-member cluster …\n`,
  );
  const floorRuns: FleetRun[] = [];
  const storeRuns: FleetRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Back to back, alternating which goes first: each round's ratio sees the same machine load.
    if (round % 2 === 0) {
      floorRuns.push(await fleet('floor', `floor-${round}/`));
      storeRuns.push(await fleet('store', `fleet-${round}/`));
    } else {
      storeRuns.push(await fleet('store', `fleet-${round}/`));
      floorRuns.push(await fleet('floor', `floor-${round}/`));
    }
  }
  const floorRate = median(floorRuns.map((r) => r.cyclesPerSec));
  const storeRate = median(storeRuns.map((r) => r.cyclesPerSec));
  const lost = storeRuns.reduce((sum, r) => sum + r.lost, 0);
  const ratios = storeRuns.map((run, i) => run.cyclesPerSec / (floorRuns[i] as FleetRun).cyclesPerSec);
  const ratio = median(ratios);
  const ratioRange = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  const cpu = (runs: FleetRun[]) => fmt(median(runs.map((r) => r.cpuPerCycleUs)));

  console.log(
    `### @core/session-etcd — ${PROCESSES} processes × ${CYCLES} register+unregister cycles at once, 3-member etcd cluster (median of ${ROUNDS} interleaved rounds; × floor = median of the per-round ratios)\n`,
  );
  console.log('| case | cycles/s (all processes) | × floor | CPU µs / cycle (one process) | lost |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(
    `| floor: 2 bare etcd transactions (compare modRevision, put a record-sized value), ${PROCESSES} processes | ${fmt(floorRate)} | 1.00 | ${cpu(floorRuns)} | — |`,
  );
  console.log(
    `| EtcdSessionStore: manager.registerResource + unregisterResource | ${fmt(storeRate)} | ${ratio.toFixed(2)} (rounds ${ratioRange}) | ${cpu(storeRuns)} | ${lost} of ${PROCESSES * CYCLES * 2 * ROUNDS} writes |`,
  );
  console.log('');
  console.log('| goal | measured | met |');
  console.log('|---|---|:---:|');
  console.log(
    `| ${PROCESSES} processes: ≥ 0.5× the floor | ${ratio.toFixed(2)}× | ${ratio >= 0.5 ? 'yes' : 'NO'} |`,
  );
  console.log(`| 0 writes lost | ${lost} | ${lost === 0 ? 'yes' : 'NO'} |`);
} finally {
  raw.close();
  await cluster.dispose();
}
