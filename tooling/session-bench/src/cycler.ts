// A fleet of cycler processes: the parent starts N of them, each prepares
// (connects, registers) and says "ready <sessionId>", waits for "go", runs
// its cycles and says "done <ms> <cpu µs per cycle>", then waits for
// "finish" (the parent checks the store first) and closes. A cycler whose
// parent is gone before "finish" exits: nobody would ever send it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { median } from './numbers.js';

/** What one cycler process runs. */
export interface Cycles {
  /** The session the cycles write (`-` when they write no session). */
  readonly sessionId: string;
  /** Runs every cycle. */
  run(): Promise<void>;
  /** Releases what `prepare` took. */
  close(): Promise<void>;
}

/** The child side: prepares, then follows the parent's "go" and "finish"; `count` is the cycles it runs. */
export async function runCycler(count: number, prepare: () => Promise<Cycles>): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  let finishing = false;
  lines.once('close', () => {
    if (!finishing) process.exit(1);
  });
  const cycles = await prepare();
  process.stdout.write(`ready ${cycles.sessionId}\n`);
  await go;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await cycles.run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`done ${ms} ${(used.user + used.system) / count}\n`);
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  finishing = true;
  await cycles.close();
  lines.close();
  process.stdin.destroy();
}

/** What a manager offers the store cycles (`GlobalSessionManager` fits). */
export interface CyclingManager {
  readonly sessionId: string;
  registerResource(input: {
    kind: string;
    id: string;
    zone?: string;
    pid?: number;
    processStartTime?: string;
  }): Promise<unknown>;
  unregisterResource(kind: string, id: string): Promise<unknown>;
  unregisterSession(): Promise<unknown>;
}

/**
 * The store's cycles: registerResource + unregisterResource on `manager`;
 * one permanent VM keeps the record, so every cycle is two record writes.
 */
export async function managerCycles(
  manager: CyclingManager,
  count: number,
  tag: string,
  closeStore: () => Promise<unknown>,
): Promise<Cycles> {
  await manager.registerResource({ kind: 'vm', id: `vm-${tag}`, zone: 'europe-west4-a' });
  return {
    sessionId: manager.sessionId,
    run: async () => {
      for (let i = 0; i < count; i++) {
        await manager.registerResource({ kind: 'process', id: 'api', pid: 4243, processStartTime: '123460' });
        await manager.unregisterResource('process', 'api');
      }
    },
    close: async () => {
      await manager.unregisterSession();
      await closeStore();
    },
  };
}

/** The lines of `input` one at a time: each call resolves with the next line, read or still to come. */
export function lineReader(input: NodeJS.ReadableStream): () => Promise<string> {
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return () =>
    queue.length > 0 ? Promise.resolve(queue.shift() as string) : new Promise<string>((r) => waiters.push(r));
}

/** One fleet run as the parent measured it. */
export interface FleetRun {
  /** Cycles per second of all processes together, from "go" to the last "done". */
  readonly cyclesPerSec: number;
  /** Writes the store does not show (see `lostOf`). */
  readonly lost: number;
  /** CPU time of one process per cycle (µs), median over the processes. */
  readonly cpuPerCycleUs: number;
}

/** How the parent runs a fleet. */
export interface FleetOptions {
  /** The cycler script (run with tsx and the `@core/source` condition). */
  readonly script: string;
  /** Its arguments for process `i`. */
  readonly argsOf: (i: number) => readonly string[];
  readonly processes: number;
  readonly cycles: number;
  /** Counts the writes of these sessions the store lost, before the cyclers close. */
  readonly lostOf: (sessions: readonly string[]) => Promise<number>;
}

/** Starts the cyclers together and measures them; every process is gone when it returns. */
export async function runFleet(options: FleetOptions): Promise<FleetRun> {
  const children = Array.from({ length: options.processes }, (_, i) =>
    spawn(
      process.execPath,
      ['--conditions=@core/source', '--import', 'tsx', options.script, ...options.argsOf(i)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: process.env,
      },
    ),
  );
  const exits = children.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  const readers = children.map((child) => lineReader(child.stdout));
  try {
    const sessions = (await Promise.all(readers.map((next) => next()))).map(
      (line) => line.split(' ')[1] as string,
    );
    const started = process.hrtime.bigint();
    for (const child of children) child.stdin.write('go\n');
    const done = await Promise.all(readers.map((next) => next()));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuPerCycleUs = median(done.map((line) => Number(line.split(' ')[2])));
    const lost = await options.lostOf(sessions);
    for (const child of children) child.stdin.write('finish\n');
    await Promise.all(exits);
    return { cyclesPerSec: (options.processes * options.cycles) / seconds, lost, cpuPerCycleUs };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
