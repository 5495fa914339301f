// One of the 8 bench processes. Waits for "go" on stdin, then runs its cycles
// and prints "done <ms>".
//   floor: bare SET + DEL of a record-sized value (the physical floor: two round trips)
//   store: manager.registerResource + unregisterResource on a RedisSessionStore
//          (one permanent resource keeps the record, so every cycle is two record writes)
//   argv: <floor|store> <redis url> <key prefix> <cycles> <tag>
import { createInterface } from 'node:readline';
import { createSessionManager } from '@core/session';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '../src/index.js';
import { benchRecord, freshDir } from './shared.js';

const [mode, url, prefix, countText, tag] = process.argv.slice(2) as [string, string, string, string, string];
const count = Number(countText);
const lines = createInterface({ input: process.stdin });
const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));

let run: () => Promise<void>;
let close: () => Promise<void>;
let sessionId = '-';
if (mode === 'floor') {
  const redis = new Redis(url);
  const value = JSON.stringify(benchRecord(`floor-${tag}`));
  await redis.ping();
  run = async () => {
    for (let i = 0; i < count; i++) {
      await redis.set(`${prefix}floor:${tag}`, value);
      await redis.del(`${prefix}floor:${tag}`);
    }
  };
  close = async () => {
    redis.disconnect();
  };
} else {
  const store = new RedisSessionStore({ url, keyPrefix: prefix });
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
await close();
lines.close();
process.stdin.destroy();
