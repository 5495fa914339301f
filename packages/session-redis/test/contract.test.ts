// The shared SessionStore contract suite (tooling/session-contract) against a real redis-server.
import * as session from '@core/session';
import { describeSessionStoreContract } from '@tooling/session-contract';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from './redis-server.js';

describe.skipIf(SKIP_REASON !== null)('on a real redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.dispose());

  describeSessionStoreContract(
    'RedisSessionStore',
    (fleet) =>
      new RedisSessionStore({
        url: server.url,
        keyPrefix: `{${fleet}}:`,
        leaseTtlMs: 2_000,
        heartbeatMs: 500,
        settleMs: 0,
        legacyKeyPrefix: null,
      }),
    session,
  );
});
