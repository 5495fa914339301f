import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionRecord } from '@core/session';

const created: string[] = [];
const onStop: (() => Promise<unknown>)[] = [];
let cleanupArmed = false;

function arm(): void {
  if (cleanupArmed) return;
  cleanupArmed = true;
  process.on('exit', () => {
    for (const dir of created) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      // What outlives this process unless stopped (the etcd members) is stopped first, for at most 10 s.
      const stopped = Promise.allSettled(onStop.map((stop) => stop()));
      const limit = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
      void Promise.race([stopped, limit]).then(() => process.exit(130));
    });
}

/** Runs `stop` (e.g. disposing the etcd cluster) before the process exits on Ctrl-C or SIGTERM. */
export function onInterrupt(stop: () => Promise<unknown>): void {
  arm();
  onStop.push(stop);
}

/**
 * A fresh session directory (the manager's tracker file lives there). Every
 * dir made here is removed when the process exits — normally, on a thrown
 * error, or on Ctrl-C — so a bench leaves nothing in the OS temp directory.
 */
export function freshDir(): string {
  arm();
  const parent = mkdtempSync(join(tmpdir(), 'session-etcd-bench-'));
  created.push(parent);
  return join(parent, 'sessions');
}

/** A realistic record: one session owning a VM and two processes (the size every floor write uses too). */
export function benchRecord(sessionId: string): SessionRecord {
  const now = Date.now();
  return {
    sessionId,
    pid: 4242,
    hostname: 'bench-host',
    hostId: 'bench-host-identity',
    processStartTime: '123456',
    createdAt: now,
    registeredAt: now,
    status: 'active',
    vmId: `vm-${sessionId}`,
    zone: 'europe-west4-a',
    components: ['backend', 'frontend'],
    metadata: { machineType: 'e2-standard-4' },
    resources: [
      { kind: 'vm', id: `vm-${sessionId}`, zone: 'europe-west4-a', registeredAt: now },
      { kind: 'process', id: 'api', pid: 4243, processStartTime: '123460', registeredAt: now },
      { kind: 'process', id: 'ui', pid: 4244, processStartTime: '123461', registeredAt: now },
    ],
  };
}

/** The median (upper middle for an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

/** A number for a table: thousands separated, `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Runs `run` for 0..count-1 with at most `limit` at once. */
export async function pool(count: number, limit: number, run: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await run(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}
