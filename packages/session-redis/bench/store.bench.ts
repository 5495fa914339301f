// Register+unregister cycles per second through a session manager: the file
// store (the embedded default) vs. the Redis store, in one run, one process,
// with 8 other sessions in the registry. The Redis server is a local
// redis-server started for the run (loopback, no persistence).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, FileRegistryStore, type SessionRecord } from '@core/session';
import { formatNs, runBenchTable } from '@tooling/bench';
import { Redis } from 'ioredis';
import { RedisRegistryStore } from '../src/index.js';
import { startRedisServer } from '../test/redis-server.js';

function entry(sessionId: string): SessionRecord {
  const now = Date.now();
  return {
    sessionId,
    pid: 4242,
    hostname: 'bench-host',
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
    ],
  };
}

const freshDir = () => join(mkdtempSync(join(tmpdir(), 'session-redis-bench-')), 'sessions');

async function fileManager(fsync: boolean) {
  const dir = freshDir();
  const store = new FileRegistryStore({ dir, fsync });
  await store.update((d) => {
    for (let i = 0; i < 8; i++) d.sessions[`seed-${i}`] = entry(`seed-${i}`);
  });
  return createSessionManager({ dir, store });
}

const server = await startRedisServer();
const raw = new Redis(server.url);
for (let i = 0; i < 8; i++) {
  // Eight other live sessions, each with its lease.
  await raw.hset('core-session:sessions', `seed-${i}`, `v1 lease-${i} ${JSON.stringify(entry(`seed-${i}`))}`);
  await raw.set(`core-session:lease:seed-${i}`, `lease-${i}`, 'PX', 600_000);
}
const redisStore = new RedisRegistryStore({ url: server.url });
const redisManager = createSessionManager({ dir: freshDir(), store: redisStore });
const durable = await fileManager(true);
const noFsync = await fileManager(false);

const cycle = (manager: ReturnType<typeof createSessionManager>) => async () => {
  await manager.registerResource({ kind: 'process', id: 'api', pid: 4243 });
  await manager.unregisterResource('process', 'api');
};

const FILE = 'FileRegistryStore (default: lock + temp + fsync + rename)';
const REDIS = 'RedisRegistryStore (read script + CAS commit script, lease set/deleted)';
try {
  await runBenchTable({
    title:
      '@core/session-redis — manager.registerResource + unregisterResource (registry of 9 sessions), one process',
    batchMs: 200,
    rounds: 9,
    cases: [
      { name: FILE, floor: true, fn: cycle(durable) },
      { name: 'FileRegistryStore, fsync: false', fn: cycle(noFsync) },
      { name: REDIS, fn: cycle(redisManager) },
    ],
    goals: [
      {
        label: 'Redis store ≥ the file store’s throughput (one process)',
        check: (r) => {
          const ratio = r.get(FILE)!.nsPerOp / r.get(REDIS)!.nsPerOp;
          return {
            ok: ratio >= 1,
            measured: `${ratio.toFixed(2)}× (${formatNs(r.get(REDIS)!.nsPerOp)} per cycle)`,
          };
        },
      },
    ],
  });
} finally {
  await redisManager.unregisterSession();
  await redisStore.close();
  raw.disconnect();
  await server.dispose();
}
