// The workers of the ownership run: 8 slots on 2 simulated hosts, each
// running one worker process at a time (test/fixtures/ownership-worker.ts);
// a worker that is killed, or leaves because its session was taken over, is
// replaced in its slot. The fleet logs every fault it causes (kill, pause,
// cut) with the time it took effect, tails the workers' history files, and
// stops every process it started — SIGCONT then SIGKILL — in `stopAll`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from '../fixtures/ownership-worker.js';
import type { FaultEvent, WorkerLine } from './history.js';

/** What every worker shares. */
export interface FleetConfig {
  /** The run's directory: history files, session directories, tsx's cache. */
  readonly dir: string;
  readonly endpoints: readonly string[];
  /** The same members through the cuttable proxies (the last slot's workers use these). */
  readonly proxied: readonly string[];
  readonly prefix: string;
  readonly cloud: string;
  readonly timing: Pick<
    WorkerConfig,
    'leaseTtlMs' | 'heartbeatMs' | 'commandTimeoutMs' | 'unavailableTimeoutMs' | 'reapEveryMs'
  >;
  readonly slots: number;
}

/** One worker process (one incarnation of a slot). */
export interface Worker {
  readonly id: string;
  readonly slot: number;
  readonly proxied: boolean;
  readonly child: ChildProcess;
  readonly log: string;
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;
  /** Paused or cut off now: not a victim for another fault. */
  faulted: boolean;
  /** The test killed it (its exit is no crash). */
  killed: boolean;
  up: boolean;
}

export const HOSTS = ['sim-host-a', 'sim-host-b'] as const;

export class Fleet {
  readonly faults: FaultEvent[] = [];
  /** Workers that crashed or never came up, with their stderr. */
  readonly problems: string[] = [];
  readonly lines: WorkerLine[] = [];
  private readonly workers: Worker[] = [];
  private readonly current = new Map<number, Worker>();
  private readonly read = new Map<string, number>();
  private stopping = false;
  private generation = 0;

  constructor(private readonly config: FleetConfig) {
    mkdirSync(join(config.dir, 'tsx'), { recursive: true });
  }

  /** Starts every slot and waits until each worker has its session. */
  async start(): Promise<void> {
    const started = Array.from({ length: this.config.slots }, (_, slot) => this.spawn(slot));
    const ready = await Promise.all(started.map((w) => w.ready));
    if (ready.includes(false)) throw new Error(`workers did not come up:\n${this.problems.join('\n')}`);
  }

  /** Workers up, not killed, not under a fault. */
  live(): Worker[] {
    return [...this.current.values()].filter((w) => w.up && !w.killed && !w.faulted);
  }

  /** Every slot's current worker (for the slot behind the proxies, say). */
  inSlot(slot: number): Worker | undefined {
    return this.current.get(slot);
  }

  note(fault: Omit<FaultEvent, 'at'>): void {
    this.faults.push({ at: Date.now(), ...fault });
  }

  /** SIGKILL, logged once it returned; a replacement starts in the slot. */
  async kill(worker: Worker): Promise<void> {
    worker.killed = true;
    worker.child.kill('SIGCONT');
    worker.child.kill('SIGKILL');
    this.note({ fault: 'kill', worker: worker.id });
    await worker.exited;
  }

  pause(worker: Worker): void {
    worker.faulted = true;
    worker.child.kill('SIGSTOP');
    this.note({ fault: 'pause', worker: worker.id });
  }

  resume(worker: Worker, pastTtl: boolean): void {
    worker.child.kill('SIGCONT');
    this.note({ fault: 'resume', worker: worker.id, pastTtl });
    worker.faulted = false;
  }

  /** Reads what the workers appended since the last call. @returns every line so far */
  poll(): readonly WorkerLine[] {
    for (const worker of this.workers) {
      if (!existsSync(worker.log)) continue;
      const text = readFileSync(worker.log, 'utf8');
      const from = this.read.get(worker.log) ?? 0;
      const end = text.lastIndexOf('\n') + 1;
      if (end <= from) continue;
      for (const line of text.slice(from, end).split('\n'))
        if (line !== '') this.lines.push(JSON.parse(line) as WorkerLine);
      this.read.set(worker.log, end);
    }
    return this.lines;
  }

  /** The session of a worker, once it logged its start. */
  sessionOf(worker: Worker): string | undefined {
    return this.poll().find((l) => l.worker === worker.id && l.kind === 'start')?.session;
  }

  /** The lease the worker last reported. */
  leaseOf(worker: Worker): string | null {
    const own = this.poll().filter((l) => l.worker === worker.id && l.kind === 'lease');
    return own.map((l) => (l.kind === 'lease' ? l.leaseId : null)).findLast((id) => id !== null) ?? null;
  }

  /**
   * A live worker whose VM cleanup got past the fencing check at or after
   * `since` (it is on its way to the cloud), with the session it is reaping.
   */
  cleaning(since: number): { worker: Worker; target: string } | undefined {
    const live = new Map(this.live().map((w) => [w.id, w]));
    const lines = this.poll();
    for (const line of lines.toReversed()) {
      if (line.at < since) break;
      const worker = live.get(line.worker);
      if (!worker || worker.proxied || line.kind !== 'op' || line.op !== 'cleanup' || line.phase !== 'run')
        continue;
      const invoke = lines.find((l) => l.kind === 'op' && l.worker === line.worker && l.n === line.n);
      if (invoke?.kind === 'op' && invoke.resource.startsWith('vm:'))
        return { worker, target: invoke.owner ?? '' };
    }
    return undefined;
  }

  /** Whether someone other than `except` acknowledged a take-over of `session` at or after `since`. */
  takenOver(session: string, since: number, except?: Worker): boolean {
    return this.poll().some(
      (l) =>
        l.kind === 'op' &&
        l.op === 'takeover' &&
        l.phase === 'done' &&
        l.ack === true &&
        l.owner === session &&
        l.at >= since &&
        l.worker !== except?.id,
    );
  }

  /** Kills every worker (SIGCONT first: a paused one dies too) and starts no more. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.workers
        .filter((w) => w.child.exitCode === null && w.child.signalCode === null)
        .map((w) => this.kill(w)),
    );
  }

  private spawn(slot: number): Worker {
    const id = `w${slot}.${this.generation++}`;
    const proxied = slot === this.config.slots - 1;
    const host = HOSTS[slot % HOSTS.length] as string;
    const dir = join(this.config.dir, id);
    const log = join(this.config.dir, `${id}.jsonl`);
    const config: WorkerConfig = {
      worker: id,
      host,
      endpoints: proxied ? this.config.proxied : this.config.endpoints,
      prefix: this.config.prefix,
      log,
      dir,
      cloud: this.config.cloud,
      ...this.config.timing,
      ports: Array.from({ length: 12 }, (_, i) => 7000 + i),
      maxVms: 8,
    };
    const script = fileURLToPath(new URL('../fixtures/ownership-worker.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=@core/source', '--import', 'tsx', script, JSON.stringify(config)],
      // tsx's transform cache goes to the run's directory: shared by the workers, removed with it.
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: join(this.config.dir, 'tsx') } },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = new Promise<boolean>((resolve) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line === 'ready') resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    const worker: Worker = {
      id,
      slot,
      proxied,
      child,
      log,
      ready,
      exited,
      faulted: false,
      killed: false,
      up: false,
    };
    void ready.then((up) => {
      worker.up = up;
    });
    child.once('exit', (code, signal) => {
      worker.up = false;
      if (!worker.killed && code !== 0)
        this.problems.push(`${id} exited (${code ?? signal}) without being killed; stderr:\n${stderr}`);
      if (this.current.get(slot) === worker) this.current.delete(slot);
      // A worker that keeps crashing is not started again and again: the run fails on the first.
      if (!this.stopping && this.problems.length === 0) this.spawn(slot);
    });
    this.workers.push(worker);
    this.current.set(slot, worker);
    return worker;
  }
}
