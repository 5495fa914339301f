// The app on the fleet-wide etcd session registry (@core/session-etcd), on a
// real 3-member cluster: `start` with CORE_SESSION_ETCD_ENDPOINTS rides out
// a kill -9 of the etcd leader without touching its services; a VM of a
// manager on another host (its own UTS namespace and hostname), SIGKILLed,
// is reaped from this host once its lease expired, and the cleanup command
// gets the take-over's fencing token as {token}; and the config refuses what
// cannot work (both registries, a password file others can read, {token}
// without etcd).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readHostIdentity } from '@core/session';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  asHost,
  CAN_BE_ANOTHER_HOST,
  type EtcdCluster,
  keysUnder,
  revision,
  SKIP_REASON,
  startEtcdCluster,
} from './etcd.js';
import { firstLine, recordedCalls, storeCheck } from './fleet-io.js';
import {
  APP_DIR,
  FIXTURES,
  freePort,
  httpGet,
  isAlive,
  killTagged,
  logLines,
  NODE_TS,
  portEnv,
  run,
  runToEnd,
  startManager,
  tagEnv,
  tempDir,
  waitUntil,
} from './helpers.js';

if (SKIP_REASON !== null) console.warn(`system-manager: skipping the etcd registry tests: ${SKIP_REASON}`);
// Another host is a UTS namespace with its own hostname: root only. Outside CI a machine without it skips; under CI=true it fails.
const SKIP_HOSTS = !CAN_BE_ANOTHER_HOST && process.env['CI'] !== 'true';
if (SKIP_HOSTS)
  console.warn(
    'system-manager: skipping the etcd two-host test: cannot start a process under another hostname (unshare --uts, root)',
  );

/** etcd counts lease TTLs in seconds: 2 s is short enough for a test, long enough for an election (0.5 s here). */
const LEASE = { leaseTtlMs: 2_000, heartbeatMs: 400 };
const RECORD_CLEANUP = path.join(FIXTURES, 'record-cleanup.mjs');
const VM_OWNER = path.join(FIXTURES, 'fleet-vm-owner.ts');
const OWN_VM = path.join(FIXTURES, 'own-vm.ts');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A key prefix of its own per test: tests share the cluster without seeing each other's sessions. */
const freshPrefix = () => `sm-${process.pid}-${randomUUID().slice(0, 8)}/`;

afterEach(async () => {
  await killTagged();
});

describe.skipIf(SKIP_REASON !== null)(
  'system-manager on the etcd session registry (a real 3-member cluster)',
  () => {
    let cluster: EtcdCluster;
    beforeAll(async () => {
      cluster = await startEtcdCluster();
    }, 30_000);
    afterAll(async () => {
      await killTagged();
      await cluster?.dispose();
    });
    /** Endpoints of the members running now (etcdctl does not wait on a killed one). */
    const live = () => cluster.members.filter((m) => m.pid !== null).map((m) => m.endpoint);

    it('start with CORE_SESSION_ETCD_ENDPOINTS keeps running, its services untouched, when the etcd leader is kill -9d', {
      timeout: 45_000,
    }, async () => {
      const keyPrefix = freshPrefix();
      // The config names an endpoint where nothing listens: only the env's (which wins) reaches the cluster.
      const m = await startManager(
        {
          services: [
            { name: 'cache', command: '{node}', args: ['{builtin:example/cache-service}'], port: 'main_api' },
          ],
          session: { ...LEASE, etcd: { endpoints: ['http://127.0.0.1:1'], keyPrefix } },
        },
        { CORE_SESSION_ETCD_ENDPOINTS: cluster.endpoints.join(',') },
      );
      const control = await m.ready();
      const before = await m.status();
      const store = before.sessionStore as { kind: string; location: string; leaseId: string | null };
      expect(before.sessionStore).toMatchObject({ kind: 'etcd', connected: true, leaseTtlMs: 2_000 });
      expect(store.location).toContain(cluster.endpoints[0]);
      expect(store.leaseId).toMatch(/^[0-9]+$/);
      const sessionId = before.sessionId as string;
      expect(await keysUnder(live(), `${keyPrefix}l/`)).toEqual([`${keyPrefix}l/${sessionId}`]);
      expect(await keysUnder(live(), `${keyPrefix}s/`)).toEqual([`${keyPrefix}s/${sessionId}`]);
      const metrics = (await httpGet(control, '/metrics')).body;
      expect(metrics).toContain('system_manager_session_store_info{kind="etcd"} 1');
      expect(metrics).toContain('system_manager_session_store_info{kind="redis"} 0');
      const services = before.services.map((s) => [s.name, s.pid, s.state]);
      expect(services).toEqual([['cache', expect.any(Number), 'healthy']]);

      // doctor: every endpoint answers, a leader, the members by name.
      const doctorEnv = { ...m.env, CORE_SESSION_ETCD_ENDPOINTS: cluster.endpoints.join(',') };
      const healthy = await storeCheck(['doctor', '--json', '--config', m.configFile], doctorEnv);
      expect(healthy).toMatchObject({ status: 'ok' });
      expect(healthy.message).toMatch(/^etcd cluster of 3 members \(m0, m1, m2\), leader m[012], etcd 3\./);
      expect(healthy.message).toContain(`keys under ${keyPrefix}; every endpoint answers`);

      const leader = await cluster.leader();
      await cluster.kill(leader);
      const killedAt = Date.now();
      onTestFinished(async () => {
        if (leader.pid === null) {
          await cluster.restart(leader);
          await cluster.waitHealthy();
        }
      });
      await cluster.waitHealthy(); // the two left elect a new leader
      // Two lease TTLs past the kill: a lease nobody renewed meanwhile would have expired by now.
      await sleep(Math.max(0, killedAt + 2 * LEASE.leaseTtlMs + 500 - Date.now()));

      expect(isAlive(m.child.pid as number)).toBe(true);
      // A request that met the killed member is a blip until the store has moved to another member
      // (seen in a loaded CI run at the very moment of reading): the store must be back within 10 s.
      let after = await m.status();
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; after = await m.status()) {
        if ((after.sessionStore as { connected?: boolean } | undefined)?.connected === true && after.store.up)
          break;
        await sleep(100);
      }
      expect(after.state).toBe('running');
      expect(after.sessionId).toBe(sessionId);
      expect(after.services.map((s) => [s.name, s.pid, s.state])).toEqual(services);
      // The same lease (a lost one would have been replaced by a new id), answering, and the store never reported down.
      expect(after.sessionStore).toMatchObject({ kind: 'etcd', connected: true, leaseId: store.leaseId });
      expect(after.store.up).toBe(true);
      // A request that met the killed member was answered by the next one: no outage at all, so the
      // store was never reported down (an outage is a request that no member answered within its budget).
      const lines = logLines(m);
      const downs = lines.filter((e) => String(e['msg']).startsWith('session store unavailable'));
      const ups = lines.filter((e) => e['msg'] === 'session store available again');
      expect(downs).toEqual([]);
      expect(ups).toEqual([]);
      expect(await keysUnder(live(), `${keyPrefix}l/`)).toEqual([`${keyPrefix}l/${sessionId}`]);
      expect((await httpGet(await m.ready(), '/health')).status).toBe(200);
      // doctor names the member that is gone, and still finds a leader among the others.
      const degraded = await storeCheck(['doctor', '--json', '--config', m.configFile], doctorEnv);
      expect(degraded).toMatchObject({ status: 'warn' });
      expect(degraded.message).toContain(`not answering: ${leader.endpoint}`);
      expect(degraded.message).not.toContain(`leader ${leader.name}`);
      expect(degraded.fix).toContain(`restart the member behind ${leader.endpoint}`);

      // SIGTERM: the session unregisters — record gone, lease revoked with its claims — and the manager exits 0.
      m.child.kill('SIGTERM');
      expect((await m.exited).code).toBe(0);
      expect(await keysUnder(live(), keyPrefix)).toEqual([]);
    });

    it.skipIf(SKIP_HOSTS)(
      "a VM of a manager on host A, SIGKILLed, is reaped from host B once A's lease expired; the cleanup command gets the fencing token",
      { timeout: 50_000 },
      async () => {
        const tmp = tempDir('sm-etcd-hosts-');
        const keyPrefix = freshPrefix();
        const recordFile = path.join(tmp.dir, 'cleanups.jsonl');
        writeFileSync(recordFile, '');
        const configFile = path.join(tmp.dir, 'config.json');
        writeFileSync(
          configFile,
          JSON.stringify({
            services: [],
            session: { ...LEASE, etcd: { endpoints: cluster.endpoints, keyPrefix } },
            cleanup: {
              vm: {
                command: [
                  process.execPath,
                  RECORD_CLEANUP,
                  '{id}',
                  '--zone',
                  '{zone}',
                  '--fencing-token',
                  '{token}',
                ],
              },
            },
          }),
        );
        const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'), RECORD_FILE: recordFile };

        // Host A: a manager in a UTS namespace of its own, hostname sm-host-a, owning vm-a-1.
        const [command, args] = asHost('sm-host-a', process.execPath, [
          ...NODE_TS,
          VM_OWNER,
          configFile,
          'vm-a-1',
          'zone-a',
        ]);
        const hostA = spawn(command, args, {
          cwd: APP_DIR,
          env: { ...process.env, LOG_LEVEL: 'info', ...env, ...(await portEnv()), ...tagEnv() },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const hostAExited = new Promise((resolve) => hostA.once('exit', resolve));
        const owner = await firstLine(hostA, 30_000);
        expect(owner['hostname']).toBe('sm-host-a');
        expect(owner['hostId']).not.toBe(readHostIdentity().id);
        const sessionA = String(owner['sessionId']);
        const registeredAt = await revision(cluster.endpoints);

        // Host B (this one) sees it live, on another host; a cleanup now reaps nothing and runs nothing.
        const listed = await runToEnd(['status', '--json', '--config', configFile], env);
        expect(listed.code, listed.stderr).toBe(0);
        const doc = JSON.parse(listed.stdout) as {
          registry: { kind: string };
          sessions: { sessionId: string; hostname: string; thisHost: boolean; liveness: string }[];
        };
        expect(doc.registry.kind).toBe('etcd');
        expect(doc.sessions.find((s) => s.sessionId === sessionA)).toMatchObject({
          hostname: 'sm-host-a',
          thisHost: false,
          liveness: 'live',
        });
        const early = await runToEnd(['sessions', 'cleanup', '--json', '--config', configFile], env);
        expect(early.code, early.stderr).toBe(0);
        expect(JSON.parse(early.stdout)).toMatchObject({ removed: 0, sessions: [], actions: [] });
        expect(recordedCalls(recordFile)).toEqual([]);

        // A dies without a word: its lease expires one TTL after its last keepalive; its record (and VM) stay.
        hostA.kill('SIGKILL');
        await hostAExited;
        const killedAt = Date.now();
        await waitUntil(
          async () => (await keysUnder(cluster.endpoints, `${keyPrefix}l/${sessionA}`)).length === 0,
          10_000,
          "host A's lease to expire",
        );
        expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE.leaseTtlMs - LEASE.heartbeatMs - 200);
        expect(await keysUnder(cluster.endpoints, `${keyPrefix}s/${sessionA}`)).toEqual([
          `${keyPrefix}s/${sessionA}`,
        ]);

        const reaped = await runToEnd(['sessions', 'cleanup', '--json', '--config', configFile], env);
        expect(reaped.code, reaped.stderr).toBe(0);
        const report = JSON.parse(reaped.stdout) as {
          removed: number;
          sessions: string[];
          actions: { kind: string; id: string; outcome: string; sessionId: string; token?: string }[];
        };
        expect(report).toMatchObject({ removed: 1, sessions: [sessionA] });
        // A's VM, and its control port's claim (released: nothing to run), all under one take-over.
        const vm = report.actions.find((a) => a.kind === 'vm');
        expect(vm).toMatchObject({ id: 'vm-a-1', outcome: 'deleted', sessionId: sessionA });
        expect(report.actions.filter((a) => a.kind !== 'vm').map((a) => [a.kind, a.outcome])).toEqual([
          ['port', 'released'],
        ]);
        // The token is the etcd revision of B's take-over: after A registered, not after now.
        const token = vm?.token as string;
        expect(new Set(report.actions.map((a) => a.token))).toEqual(new Set([token]));
        expect(token).toMatch(/^[1-9][0-9]*$/);
        expect(BigInt(token)).toBeGreaterThan(registeredAt);
        expect(BigInt(token)).toBeLessThanOrEqual(await revision(cluster.endpoints));
        expect(recordedCalls(recordFile)).toEqual([['vm-a-1', '--zone', 'zone-a', '--fencing-token', token]]);
        const lines = reaped.stderr.split('\n').flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
        expect(lines.find((e) => e['msg'] === 'reaping stale session')).toMatchObject({
          sessionId: sessionA,
          token,
        });
        expect(lines.find((e) => e['msg'] === 'cleanup vm vm-a-1: deleted')).toMatchObject({ token });
        // Nothing of A is left in the registry.
        expect((await keysUnder(cluster.endpoints, keyPrefix)).filter((k) => k.includes(sessionA))).toEqual(
          [],
        );
      },
    );
  },
);

describe('the etcd registry in the config: what cannot work is refused (exit 78)', () => {
  it('Redis and etcd both named (config, or env) are refused naming both', { timeout: 30_000 }, async () => {
    const tmp = tempDir('sm-etcd-both-');
    const configFile = path.join(tmp.dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        services: [],
        session: { redisUrl: 'redis://127.0.0.1:1', etcd: { endpoints: ['http://127.0.0.1:2'] } },
      }),
    );
    const checked = await runToEnd(['config', 'check', '--config', configFile], {});
    expect(checked.code).toBe(78);
    expect(checked.stderr).toContain('both session.redisUrl (Redis) and session.etcd (etcd)');

    writeFileSync(configFile, JSON.stringify({ services: [] }));
    const started = await runToEnd(['start', '--config', configFile], {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
      CORE_SESSION_REDIS_URL: 'redis://127.0.0.1:1',
      CORE_SESSION_ETCD_ENDPOINTS: 'http://127.0.0.1:2',
      ...(await portEnv()),
    });
    expect(started.code).toBe(78);
    expect(started.stderr).toContain(
      'both a Redis session registry (CORE_SESSION_REDIS_URL) and an etcd one (CORE_SESSION_ETCD_ENDPOINTS)',
    );
  });

  it('a password file others can read, an unreadable CA file and a lease TTL of 2.5 s are refused', {
    timeout: 30_000,
  }, async () => {
    const tmp = tempDir('sm-etcd-files-');
    const passwordFile = path.join(tmp.dir, 'etcd.password');
    writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
    chmodSync(passwordFile, 0o644);
    const configFile = path.join(tmp.dir, 'config.json');
    const write = (etcd: Record<string, unknown>, session: Record<string, unknown> = {}) =>
      writeFileSync(
        configFile,
        JSON.stringify({
          services: [],
          session: { ...LEASE, ...session, etcd: { endpoints: ['http://127.0.0.1:2'], ...etcd } },
        }),
      );
    const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'), ...(await portEnv()) };

    write({ user: 'fleet', passwordFile: './etcd.password' }); // relative: against the config's directory
    const open = await runToEnd(['start', '--config', configFile], env);
    expect(open.code).toBe(78);
    expect(open.stderr).toContain(
      `session.etcd.passwordFile: the password file ${passwordFile} is readable or writable by others (mode 0644): chmod 600 it`,
    );
    expect(open.stderr).not.toContain('secret');

    write({ endpoints: ['https://127.0.0.1:2'], tls: { caFile: path.join(tmp.dir, 'missing-ca.pem') } });
    const noCa = await runToEnd(['start', '--config', configFile], env);
    expect(noCa.code).toBe(78);
    expect(noCa.stderr).toContain(
      `session.etcd.tls.caFile: cannot read ${path.join(tmp.dir, 'missing-ca.pem')} (ENOENT)`,
    );

    write({}, { leaseTtlMs: 2_500 });
    const odd = await runToEnd(['config', 'check', '--config', configFile], env);
    expect(odd.code).toBe(78);
    expect(odd.stderr).toContain('etcd counts lease TTLs in whole seconds');
    expect(odd.stderr).toContain('use 2000 or 3000');
  });

  it('doctor: an etcd registry where no endpoint answers fails, naming the endpoints and the fix', {
    timeout: 30_000,
  }, async () => {
    const tmp = tempDir('sm-etcd-doctor-');
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const check = await storeCheck(['doctor', '--json'], {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
      XDG_CONFIG_HOME: tmp.dir,
      CORE_SESSION_ETCD_ENDPOINTS: nobody,
      ...(await portEnv()),
    });
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.message).toContain(`etcd ${nobody}: no endpoint answers`);
    expect(check.fix).toContain('fix CORE_SESSION_ETCD_ENDPOINTS');
  });

  it('{token} with the file registry: the cleanup is refused, never run, and the VM stays recorded', {
    timeout: 30_000,
  }, async () => {
    const tmp = tempDir('sm-etcd-token-');
    const recordFile = path.join(tmp.dir, 'cleanups.jsonl');
    writeFileSync(recordFile, '');
    const configFile = path.join(tmp.dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        services: [],
        cleanup: {
          vm: { command: [process.execPath, RECORD_CLEANUP, '{id}', '--fencing-token', '{token}'] },
        },
      }),
    );
    const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'), RECORD_FILE: recordFile };
    const owner = run(['vm-file-1', 'zone-f'], env, OWN_VM);
    await waitUntil(() => owner.stdout().includes('sessionId'), 15_000, 'VM registration');
    owner.child.kill('SIGKILL');
    await owner.exited;

    for (const attempt of [1, 2]) {
      const cleanup = await runToEnd(['sessions', 'cleanup', '--json', '--config', configFile], env);
      expect(cleanup.code, `attempt ${attempt}: ${cleanup.stderr}`).toBe(1);
      // Not run, so not cleaned: adopted by the cleanup's own session (the file registry's way), reaped again next time.
      const report = JSON.parse(cleanup.stdout) as { actions: Record<string, unknown>[]; adopted: unknown[] };
      expect(report.adopted).toHaveLength(1);
      expect(report.actions).toEqual([
        expect.objectContaining({
          kind: 'vm',
          id: 'vm-file-1',
          outcome: 'refused',
          detail: expect.stringContaining('it passes {token}, but this cleanup runs under no fencing token'),
        }),
      ]);
      expect(report.actions[0]).not.toHaveProperty('token');
    }
    expect(recordedCalls(recordFile)).toEqual([]);
  });
});
