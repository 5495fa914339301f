// The other sessions of (b), in a process of their own: N live sessions as
// the store keeps them — each a record, its own lease (the store's default
// TTL, 30 s) and a lease marker on it — kept alive at the store's default
// heartbeat (10 s), one keepalive per lease per heartbeat, spread evenly.
// They are written directly (the same keys and values the store writes):
// making 5,000 sessions through 5,000 store instances would measure the
// bench's own process, not the cluster. Prints "ready" once all are alive;
// exits when stdin closes (the leases then run out on their own).
//   argv: <endpoints,comma-separated> <key prefix> <count>
import { createInterface } from 'node:readline';
import { benchRecord, pool } from '@tooling/session-bench';
import { Etcd3 } from 'etcd3';
import { serializeRecord } from '../src/codec.js';
import { KeyLayout } from '../src/keys.js';

const TTL_SECONDS = 30;
const HEARTBEAT_MS = 10_000;

const [endpointList, prefix, countText] = process.argv.slice(2) as [string, string, string];
const count = Number(countText);
const client = new Etcd3({ hosts: endpointList.split(',') });
const keys = new KeyLayout(prefix);

const leases: string[] = [];
await pool(count, 64, async (i) => {
  leases[i] = String((await client.leaseClient.leaseGrant({ TTL: TTL_SECONDS })).ID);
});
// 32 sessions (64 puts) per transaction: below etcd's default limit of 128 operations.
const batches = Math.ceil(count / 32);
await pool(batches, 8, async (b) => {
  const success = [];
  for (let i = b * 32; i < Math.min(count, (b + 1) * 32); i++) {
    const id = `crowd-${i}`;
    const lease = leases[i] as string;
    const record = {
      ...benchRecord(id, 'bench-host-identity'),
      hostname: 'crowd-host',
      hostId: 'crowd-host-identity',
    };
    success.push({
      request_put: { key: Buffer.from(keys.record(id)), value: Buffer.from(serializeRecord(record)) },
    });
    success.push({ request_put: { key: Buffer.from(keys.lease(id)), value: Buffer.from(lease), lease } });
  }
  await client.kv.txn({ compare: [], success, failure: [] });
});

const stream = await client.leaseClient.leaseKeepAlive();
stream.on('data', () => {});
stream.on('error', () => {});
const TICK_MS = 100;
const perTick = Math.ceil((count * TICK_MS) / HEARTBEAT_MS);
let next = 0;
const timer = setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    stream.write({ ID: leases[next] as string });
    next = (next + 1) % count;
  }
}, TICK_MS);
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('close', () => resolve()));
clearInterval(timer);
stream.end();
client.close();
