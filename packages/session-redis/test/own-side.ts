// The attached session's own side wired as OwnLease wires it, on a real
// redis-server, for the unit tests of the write path, the heartbeat and the
// recovery: each part is reached directly, the renewals and the claims it
// asks to make again are recorded.
import type { SessionLogger } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { Connection } from '../src/connection.js';
import { Heartbeat } from '../src/heartbeat.js';
import { KeyLayout } from '../src/keys.js';
import type { LeaseRenewal } from '../src/lease-renewal.js';
import { resolveRedisOptions } from '../src/options.js';
import { OwnRecord } from '../src/own-record.js';
import { RecordWrites } from '../src/record-writes.js';
import { Recovery } from '../src/recovery.js';
import { freshPrefix, rawClient } from './helpers.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

/** A redis-server and a raw client for the suite it is called in (started before, stopped after). */
export function suiteServer(): { readonly server: RedisServer; readonly raw: Redis } {
  const suite = {} as { server: RedisServer; raw: Redis };
  beforeAll(async () => {
    suite.server = await startRedisServer();
    suite.raw = rawClient(suite.server.url);
  });
  afterAll(async () => {
    suite.raw?.disconnect();
    await suite.server?.dispose();
  });
  return suite;
}

/** The parts, with what they reported. */
export interface OwnSide {
  readonly own: OwnRecord;
  readonly recovery: Recovery;
  readonly writes: RecordWrites;
  readonly heartbeat: Heartbeat;
  readonly keys: KeyLayout;
  readonly renewals: LeaseRenewal[];
  /** Ids of the resources it asked to claim again. */
  readonly reclaimed: string[];
}

/** A fresh own side (its own key prefix; lease TTL 600 ms, heartbeat 150 ms), closed when the test finishes. */
export function ownSide(url: string, sessionId: string): OwnSide {
  const options = resolveRedisOptions({
    url,
    keyPrefix: freshPrefix(),
    leaseTtlMs: 600,
    heartbeatMs: 150,
    settleMs: 0,
  });
  const logger: SessionLogger = { warn: () => {} };
  const connection = new Connection(options, 'test', logger);
  const keys = new KeyLayout(options.keyPrefix);
  const renewals: LeaseRenewal[] = [];
  const reclaimed: string[] = [];
  const own = new OwnRecord({
    connection,
    keys,
    options,
    location: 'test',
    logger,
    emit: (renewal) => renewals.push(renewal),
    reclaim: async (resources) => {
      reclaimed.push(...resources.map((r) => r.id));
    },
  });
  own.sessionId = sessionId;
  const recovery: Recovery = new Recovery(own, (record, epoch) => writes.put(record, epoch));
  const writes: RecordWrites = new RecordWrites(own, recovery, () => heartbeat.start());
  const heartbeat: Heartbeat = new Heartbeat(own, recovery, async () => {
    if (own.lastRecord !== null) await writes.writeQueued(own.lastRecord);
  });
  onTestFinished(async () => {
    own.stopped = true;
    own.stopTimer();
    await own.queue;
    await connection.close();
  });
  return { own, recovery, writes, heartbeat, keys, renewals, reclaimed };
}
