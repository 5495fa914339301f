// One of the 8 bench processes. Waits for "go" on stdin, then runs its cycles
// and prints "done <ms> <cpu µs per cycle>".
//   floor: per cycle two bare etcd transactions of the store's shape — compare
//          the record key's modRevision with the last one written, put a
//          record-sized value — on one client (the physical floor: two
//          round trips through raft)
//   store: manager.registerResource + unregisterResource on an EtcdSessionStore
//          (one permanent resource keeps the record, so every cycle is two record writes)
//   argv: <floor|store> <endpoints,comma-separated> <key prefix> <cycles> <tag>
import { createInterface } from 'node:readline';
import { createSessionManager } from '@core/session';
import { Etcd3 } from 'etcd3';
import { EtcdSessionStore } from '../src/index.js';
import { benchRecord, freshDir } from './shared.js';

const [mode, endpointList, prefix, countText, tag] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const endpoints = endpointList.split(',');
const count = Number(countText);
const lines = createInterface({ input: process.stdin });
const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
let finishing = false;
// The parent is gone (killed, interrupted) before it said "finish": nobody will, so this process ends too.
lines.once('close', () => {
  if (!finishing) process.exit(1);
});

let run: () => Promise<void>;
let close: () => Promise<void>;
let sessionId = '-';
if (mode === 'floor') {
  const client = new Etcd3({ hosts: endpoints });
  const key = Buffer.from(`${prefix}floor/${tag}`);
  const value = Buffer.from(JSON.stringify(benchRecord(`floor-${tag}`)));
  let revision = String((await client.kv.put({ key, value })).header.revision);
  const write = async () => {
    const reply = await client.kv.txn({
      compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: revision }],
      success: [{ request_put: { key, value } }],
    });
    if (!reply.succeeded) throw new Error('floor: the compare failed');
    revision = String(reply.header.revision);
  };
  run = async () => {
    for (let i = 0; i < count; i++) {
      await write();
      await write();
    }
  };
  close = async () => client.close();
} else {
  const store = new EtcdSessionStore({ endpoints, keyPrefix: prefix });
  const manager = createSessionManager({ dir: freshDir(), store });
  await manager.registerResource({ kind: 'vm', id: `vm-${tag}`, zone: 'europe-west4-a' });
  sessionId = manager.sessionId;
  run = async () => {
    for (let i = 0; i < count; i++) {
      await manager.registerResource({ kind: 'process', id: 'api', pid: 4243, processStartTime: '123460' });
      await manager.unregisterResource('process', 'api');
    }
  };
  close = async () => {
    await manager.unregisterSession();
    await store.close();
  };
}
process.stdout.write(`ready ${sessionId}\n`);
await go;
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
await run();
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const used = process.cpuUsage(cpu);
process.stdout.write(`done ${ms} ${(used.user + used.system) / count}\n`);
await new Promise<void>((resolve) => lines.once('line', () => resolve())); // the parent checks the store first
finishing = true;
await close();
lines.close();
process.stdin.destroy();
