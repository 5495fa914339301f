// (c) Reaping a dead host: 50 sessions × 20 VMs of another host, whose
// leases are gone, reaped by `reapDeadSessions` (concurrency 8) with a
// fenced cleanup that spawns a real command (/bin/true) per VM — against
// 1,000 bare spawns of /bin/true at the same concurrency. What the store
// adds on top of the commands: one listing, a take-over and a finish per
// session, and the fencing check (one read) before each cleanup. Rounds
// alternate which goes first.
import { spawn } from 'node:child_process';
import { createSessionManager, type SessionRecord } from '@core/session';
import { benchRecord, freshDir, pool } from '@tooling/session-bench';
import type { Etcd3 } from 'etcd3';
import { serializeRecord } from '../src/codec.js';
import { EtcdSessionStore, fencedCleanup } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';

const COMMAND = '/bin/true';

export interface ReapComparison {
  /** Seconds per round. */
  readonly reap: number[];
  readonly bare: number[];
  /** Per round: reap ÷ bare. */
  readonly ratios: number[];
  readonly vms: number;
  readonly sessions: number;
}

/** Runs the command once; true when it exited 0. */
function runCommand(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(COMMAND, [], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** A dead host's sessions under `prefix`: records without lease markers (their leases ran out). */
async function deadHost(raw: Etcd3, prefix: string, sessions: number, vmsEach: number): Promise<void> {
  const keys = new KeyLayout(prefix);
  await pool(sessions, 8, async (s) => {
    const id = `dead-${s}`;
    const now = Date.now();
    const record: SessionRecord = {
      ...benchRecord(id, 'bench-host-identity'),
      pid: 4_000_000,
      hostname: 'dead-host',
      hostId: 'dead-host-identity',
      vmId: null,
      zone: null,
      resources: Array.from({ length: vmsEach }, (_, v) => ({
        kind: 'vm',
        id: `vm-${s}-${v}`,
        zone: 'europe-west4-a',
        registeredAt: now,
      })),
    };
    await raw.put(keys.record(id)).value(serializeRecord(record));
  });
}

async function reapOnce(endpoints: readonly string[], prefix: string, concurrency: number) {
  const store = new EtcdSessionStore({ endpoints, keyPrefix: prefix, settleMs: 0 });
  const manager = createSessionManager({ dir: freshDir(), store });
  try {
    await store.whenSettled();
    const started = process.hrtime.bigint();
    const report = await manager.reapDeadSessions({
      adopt: false,
      concurrency,
      cleanup: fencedCleanup(async () => ({ ok: await runCommand() })),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { seconds, cleaned: report.cleaned.length, removed: report.removed.length };
  } finally {
    await store.close();
  }
}

async function bareOnce(count: number, concurrency: number): Promise<number> {
  const started = process.hrtime.bigint();
  let failed = 0;
  await pool(count, concurrency, async () => {
    if (!(await runCommand())) failed++;
  });
  if (failed > 0) throw new Error(`${failed} of ${count} runs of ${COMMAND} failed`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function compareReaping(
  raw: Etcd3,
  endpoints: readonly string[],
  options: { sessions: number; vmsEach: number; concurrency: number; rounds: number },
): Promise<ReapComparison> {
  const { sessions, vmsEach, concurrency, rounds } = options;
  const vms = sessions * vmsEach;
  const reap: number[] = [];
  const bare: number[] = [];
  await bareOnce(50, concurrency); // warm: the command's pages, the spawn path
  for (let round = 0; round < rounds; round++) {
    const prefix = `reap-${round}/`;
    await deadHost(raw, prefix, sessions, vmsEach);
    const runReap = async () => {
      const run = await reapOnce(endpoints, prefix, concurrency);
      if (run.cleaned !== vms || run.removed !== sessions)
        throw new Error(
          `round ${round}: cleaned ${run.cleaned} of ${vms} VMs, removed ${run.removed} of ${sessions} sessions`,
        );
      reap.push(run.seconds);
    };
    const runBare = async () => bare.push(await bareOnce(vms, concurrency));
    if (round % 2 === 0) {
      await runReap();
      await runBare();
    } else {
      await runBare();
      await runReap();
    }
  }
  return { reap, bare, ratios: reap.map((r, i) => r / (bare[i] as number)), vms, sessions };
}
