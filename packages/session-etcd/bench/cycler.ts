// One of the 8 bench processes (see runCycler for the protocol with the parent).
//   floor: per cycle two bare etcd transactions of the store's shape — compare
//          the record key's modRevision with the last one written, put a
//          record-sized value — on one client (the physical floor: two
//          round trips through raft)
//   store: manager.registerResource + unregisterResource on an EtcdSessionStore
//          (one permanent resource keeps the record, so every cycle is two record writes)
//   argv: <floor|store> <endpoints,comma-separated> <key prefix> <cycles> <tag>
import { createSessionManager } from '@core/session';
import { benchRecord, freshDir, managerCycles, runCycler } from '@tooling/session-bench';
import { Etcd3 } from 'etcd3';
import { EtcdSessionStore } from '../src/index.js';

const [mode, endpointList, prefix, countText, tag] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const endpoints = endpointList.split(',');
const count = Number(countText);

await runCycler(count, async () => {
  if (mode !== 'floor') {
    const store = new EtcdSessionStore({ endpoints, keyPrefix: prefix });
    return managerCycles(createSessionManager({ dir: freshDir(), store }), count, tag, () => store.close());
  }
  const client = new Etcd3({ hosts: endpoints });
  const key = Buffer.from(`${prefix}floor/${tag}`);
  const value = Buffer.from(JSON.stringify(benchRecord(`floor-${tag}`, 'bench-host-identity')));
  let revision = String((await client.kv.put({ key, value })).header.revision);
  const write = async () => {
    const reply = await client.kv.txn({
      compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: revision }],
      success: [{ request_put: { key, value } }],
    });
    if (!reply.succeeded) throw new Error('floor: the compare failed');
    revision = String(reply.header.revision);
  };
  return {
    sessionId: '-',
    run: async () => {
      for (let i = 0; i < count; i++) {
        await write();
        await write();
      }
    },
    close: async () => client.close(),
  };
});
