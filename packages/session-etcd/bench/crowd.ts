// (b) What one register+unregister cycle costs as the fleet grows: one
// session in this process cycles while 10, then 5,000, other live sessions
// share its key prefix (bench/crowd-keeper.ts keeps them alive with one
// lease each, as the store does). Each operation touches only its own
// session's keys, so the cost should not grow with the fleet; what does grow
// is the cluster's work (keys, leases, keepalives), and that is measured too.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSessionManager } from '@core/session';
import { freshDir, median } from '@tooling/session-bench';
import { EtcdSessionStore } from '../src/index.js';

export interface CrowdRun {
  readonly sessions: number;
  /** Median over rounds of the mean wall time of one cycle (ms). */
  readonly msPerCycle: number;
  /** Median over rounds of this process's CPU per cycle (µs). */
  readonly cpuPerCycleUs: number;
  readonly rounds: number[];
}

/** Starts the crowd of `count` live sessions under `prefix`; resolves once they are alive. @returns stop */
async function crowd(
  endpoints: readonly string[],
  prefix: string,
  count: number,
): Promise<() => Promise<void>> {
  const script = fileURLToPath(new URL('./crowd-keeper.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@core/source', '--import', 'tsx', script, endpoints.join(','), prefix, String(count)],
    { stdio: ['pipe', 'pipe', 'inherit'], env: process.env },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(line === 'ready'));
    void exited.then(() => resolve(false));
  });
  const stop = async () => {
    child.stdin.end();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  };
  if (!ready) {
    await stop();
    throw new Error(`the crowd of ${count} sessions did not come up`);
  }
  return stop;
}

/** `rounds` × `cycles` cycles of one session among `count` other live sessions. */
async function among(
  endpoints: readonly string[],
  count: number,
  cycles: number,
  rounds: number,
): Promise<CrowdRun> {
  const prefix = `crowd-${count}/`;
  const stop = await crowd(endpoints, prefix, count);
  const store = new EtcdSessionStore({ endpoints, keyPrefix: prefix });
  const manager = createSessionManager({ dir: freshDir(), store });
  try {
    await manager.registerResource({ kind: 'vm', id: 'vm-crowd', zone: 'europe-west4-a' });
    const cycle = async () => {
      await manager.registerResource({ kind: 'process', id: 'api', pid: 4243, processStartTime: '123460' });
      await manager.unregisterResource('process', 'api');
    };
    // Warm for 3 s: connections, JIT, and the cluster past the crowd's arrival (its grants and writes).
    for (const until = Date.now() + 3_000; Date.now() < until; ) await cycle();
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = process.hrtime.bigint();
      const used = process.cpuUsage();
      for (let i = 0; i < cycles; i++) await cycle();
      wall.push(Number(process.hrtime.bigint() - started) / 1e6 / cycles);
      const spent = process.cpuUsage(used);
      cpu.push((spent.user + spent.system) / cycles);
    }
    return { sessions: count, msPerCycle: median(wall), cpuPerCycleUs: median(cpu), rounds: wall };
  } finally {
    await manager.unregisterSession().catch(() => undefined);
    await store.close();
    await stop();
  }
}

/** The cycle among `small` live sessions, then among `large`. */
export async function compareCrowds(
  endpoints: readonly string[],
  options: { small: number; large: number; cycles: number; rounds: number },
): Promise<{ small: CrowdRun; large: CrowdRun }> {
  const small = await among(endpoints, options.small, options.cycles, options.rounds);
  const large = await among(endpoints, options.large, options.cycles, options.rounds);
  return { small, large };
}
