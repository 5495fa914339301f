import * as session from '@core/session';
import { describeSessionStoreContract } from '@tooling/session-contract';
import { afterAll, beforeAll, describe } from 'vitest';
import { EtcdSessionStore } from '../src/index.js';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { TIMING } from './helpers.js';

describe.skipIf(SKIP_REASON !== null)('on a real 3-member etcd cluster', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(() => cluster?.dispose());

  describeSessionStoreContract(
    'EtcdSessionStore',
    (fleet) =>
      new EtcdSessionStore({ endpoints: cluster.endpoints, keyPrefix: `${fleet}/`, settleMs: 0, ...TIMING }),
    session,
  );
});
