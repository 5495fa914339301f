// `status --fleet` on a real shared registry — a redis-server and a real
// 3-member etcd cluster: a manager on another host (a UTS namespace of its
// own, hostname sm-fleet-a) owning a VM and a manager on this host running a
// service are both shown, each with its counts and lease time left; once the
// other host's manager is SIGKILLed its session shows dead after its lease
// TTL. A file registry is refused (exit 2, "not shared"); an unreachable
// store fails (exit 1) within a bounded time, naming the store.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FleetDocument } from '../src/commands/fleet-status.js';
import {
  asHost,
  CAN_BE_ANOTHER_HOST,
  type EtcdCluster,
  keysUnder,
  SKIP_REASON,
  startEtcdCluster,
} from './etcd.js';
import { firstLine } from './fleet-io.js';
import {
  APP_DIR,
  FIXTURES,
  killTagged,
  NODE_TS,
  portEnv,
  runToEnd,
  startManager,
  tagEnv,
  tempDir,
  waitUntil,
} from './helpers.js';
import { redisCommand, SKIP_REDIS, startRedis } from './redis.js';

// Another host is a UTS namespace with its own hostname: root only. Outside CI a machine without it skips; under CI=true it fails.
const SKIP_HOSTS = !CAN_BE_ANOTHER_HOST && process.env['CI'] !== 'true';
if (SKIP_HOSTS)
  console.warn(
    'system-manager: skipping the status --fleet two-host tests: cannot start a process under another hostname (unshare --uts, root)',
  );

const LEASE = { leaseTtlMs: 2_000, heartbeatMs: 400 };
const VM_OWNER = path.join(FIXTURES, 'fleet-vm-owner.ts');

afterEach(async () => {
  await killTagged();
});

/** `status --fleet --json` with `configFile`, parsed (fails the test on a non-zero exit). */
async function fleetStatus(configFile: string, env: Record<string, string>): Promise<FleetDocument> {
  const { code, stdout, stderr } = await runToEnd(
    ['status', '--fleet', '--json', '--config', configFile],
    env,
  );
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as FleetDocument;
}

/**
 * Two hosts on one registry (`session` of the configs): host A (another UTS
 * namespace) owns a VM, this host runs a manager with one service. Both are
 * listed with their counts; A SIGKILLed shows dead once `leaseGone` holds.
 */
async function twoHosts(
  session: Record<string, unknown>,
  leaseGone: (sessionId: string) => Promise<boolean>,
): Promise<void> {
  const tmp = tempDir('sm-fleet-status-');
  const configA = path.join(tmp.dir, 'host-a.json');
  writeFileSync(configA, JSON.stringify({ services: [], session }));
  const [command, args] = asHost('sm-fleet-a', process.execPath, [
    ...NODE_TS,
    VM_OWNER,
    configA,
    'vm-a-1',
    'zone-a',
  ]);
  const hostA = spawn(command, args, {
    cwd: APP_DIR,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions-a'),
      ...(await portEnv()),
      ...tagEnv(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hostAExited = new Promise((resolve) => hostA.once('exit', resolve));
  const owner = await firstLine(hostA, 30_000);
  const sessionA = String(owner['sessionId']);
  expect(owner['hostname']).toBe('sm-fleet-a');

  const m = await startManager({
    services: [
      { name: 'cache', command: '{node}', args: ['{builtin:example/cache-service}'], port: 'main_api' },
    ],
    session,
  });
  await m.ready();
  const sessionB = String((await m.status()).sessionId);

  const doc = await fleetStatus(m.configFile, m.env);
  expect(doc.hosts).toHaveLength(2);
  const [here, a] = doc.hosts;
  expect(here).toMatchObject({
    hostname: os.hostname(),
    thisHost: true,
    counts: { sessions: 1, live: 1, dead: 0, unknown: 0, services: 1, vms: 0 },
  });
  expect(here?.sessions.map((s) => [s.sessionId, s.liveness])).toEqual([[sessionB, 'live']]);
  expect(a).toMatchObject({
    hostname: 'sm-fleet-a',
    hostId: owner['hostId'],
    thisHost: false,
    counts: { sessions: 1, live: 1, dead: 0, unknown: 0, services: 0, vms: 1 },
  });
  expect(a?.sessions.map((s) => [s.sessionId, s.liveness, s.reason])).toEqual([
    [sessionA, 'live', 'lease held'],
  ]);
  for (const host of doc.hosts) {
    expect(host.leaseTtlMs).toBeGreaterThan(0);
    expect(host.leaseTtlMs).toBeLessThanOrEqual(LEASE.leaseTtlMs);
  }
  const text = await runToEnd(['status', '--fleet', '--config', m.configFile], m.env);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/fleet of 2 host\(s\), 2 session\(s\)/);
  expect(text.stdout).toMatch(
    new RegExp(
      `${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(this host\\) +\\S+ +1 \\(1 live\\) +1 +0 +\\d`,
    ),
  );
  expect(text.stdout).toMatch(/sm-fleet-a +\S+ +1 \(1 live\) +0 +1 +\d/);

  // A dies without a word: once its lease is gone, this host shows it dead (by its lease), with no TTL left.
  hostA.kill('SIGKILL');
  await hostAExited;
  await waitUntil(() => leaseGone(sessionA), 10_000, "host A's lease to expire");
  const after = await fleetStatus(m.configFile, m.env);
  const gone = after.hosts.find((h) => h.hostname === 'sm-fleet-a');
  expect(gone).toMatchObject({ counts: { sessions: 1, live: 0, dead: 1, vms: 1 }, leaseTtlMs: null });
  expect(gone?.sessions.map((s) => [s.sessionId, s.liveness, s.reason, s.leaseTtlMs])).toEqual([
    [sessionA, 'dead', 'lease expired', null],
  ]);
  expect(after.hosts.find((h) => h.thisHost)?.counts).toMatchObject({ live: 1, services: 1 });
  m.child.kill('SIGTERM');
  await m.exited;
}

describe.skipIf(SKIP_REDIS)('status --fleet on Redis (a real redis-server)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await killTagged();
    await redis?.stop();
  });

  it.skipIf(SKIP_HOSTS)(
    'two hosts with their counts; the SIGKILLed one dead after its TTL',
    { timeout: 60_000 },
    async () => {
      const keyPrefix = `{sm-fleet-${randomUUID().slice(0, 8)}}:`;
      await twoHosts(
        { ...LEASE, redisUrl: redis.url, keyPrefix },
        async (sessionId) => (await redisCommand(redis.url, 'EXISTS', `${keyPrefix}l:${sessionId}`)) === 0,
      );
    },
  );
});

describe.skipIf(SKIP_REASON !== null)('status --fleet on etcd (a real 3-member cluster)', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(async () => {
    await killTagged();
    await cluster?.dispose();
  });

  it.skipIf(SKIP_HOSTS)(
    'two hosts with their counts; the SIGKILLed one dead after its TTL',
    { timeout: 60_000 },
    async () => {
      const keyPrefix = `sm-fleet-${randomUUID().slice(0, 8)}/`;
      await twoHosts(
        { ...LEASE, etcd: { endpoints: cluster.endpoints, keyPrefix } },
        async (sessionId) => (await keysUnder(cluster.endpoints, `${keyPrefix}l/${sessionId}`)).length === 0,
      );
    },
  );
});

describe('status --fleet without a shared registry', () => {
  it('a file registry: exit 2, saying it is not shared', { timeout: 30_000 }, async () => {
    const tmp = tempDir('sm-fleet-file-');
    const { code, stdout, stderr } = await runToEnd(['status', '--fleet'], {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
      XDG_CONFIG_HOME: tmp.dir,
    });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('which no other host shares: there is no fleet to show');
    expect(stderr).toContain('CORE_SESSION_REDIS_URL or CORE_SESSION_ETCD_ENDPOINTS');
  });

  it('--fleet with --all-users is a usage error', { timeout: 30_000 }, async () => {
    const { code, stderr } = await runToEnd(['status', '--fleet', '--all-users'], {});
    expect(code).toBe(2);
    expect(stderr).toContain("'--fleet' lists the shared registry");
  });

  it('an unreachable store: exit 1 within a bounded time, naming the store', {
    timeout: 60_000,
  }, async () => {
    const tmp = tempDir('sm-fleet-down-');
    for (const env of [
      { CORE_SESSION_REDIS_URL: 'redis://127.0.0.1:1', where: 'redis://127.0.0.1:1' },
      { CORE_SESSION_ETCD_ENDPOINTS: 'http://127.0.0.1:1', where: 'etcd http://127.0.0.1:1' },
    ]) {
      const { where, ...vars } = env;
      const started = Date.now();
      const { code, stdout, stderr } = await runToEnd(['status', '--fleet', '--json'], {
        ...vars,
        CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
        XDG_CONFIG_HOME: tmp.dir,
      });
      // 3 s for the store, the rest is starting Node with tsx on a loaded machine.
      expect(Date.now() - started).toBeLessThan(25_000);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(`the session store at ${where}`);
      expect(stderr).toMatch(/did not answer within 3\d\d\d ms/);
    }
  });
});
