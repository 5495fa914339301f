// One of the 8 bench processes (see runCycler for the protocol with the parent).
//   floor: bare SET + DEL of a record-sized value (the physical floor: two round trips)
//   store: manager.registerResource + unregisterResource on a RedisSessionStore
//          (one permanent resource keeps the record, so every cycle is two record writes)
//   argv: <floor|store> <redis url> <key prefix> <cycles> <tag>
import { createSessionManager } from '@core/session';
import { benchRecord, freshDir, managerCycles, runCycler } from '@tooling/session-bench';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '../src/index.js';

const [mode, url, prefix, countText, tag] = process.argv.slice(2) as [string, string, string, string, string];
const count = Number(countText);

await runCycler(count, async () => {
  if (mode !== 'floor') {
    const store = new RedisSessionStore({ url, keyPrefix: prefix });
    return managerCycles(createSessionManager({ dir: freshDir(), store }), count, tag, () => store.close());
  }
  const redis = new Redis(url);
  const value = JSON.stringify(benchRecord(`floor-${tag}`, 'bench-host-identity'));
  await redis.ping();
  return {
    sessionId: '-',
    run: async () => {
      for (let i = 0; i < count; i++) {
        await redis.set(`${prefix}floor:${tag}`, value);
        await redis.del(`${prefix}floor:${tag}`);
      }
    },
    close: async () => {
      redis.disconnect();
    },
  };
});
