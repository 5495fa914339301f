// Real managers, real services, real signals: every test runs the CLI from
// source in child processes against its own private session directory.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  httpGet,
  isAlive,
  killTagged,
  portEnv,
  type Running,
  run,
  runToEnd,
  tempDir,
  waitUntil,
} from './helpers.js';

interface StatusJson {
  staleSessions: number;
  sessions: {
    sessionId: string;
    pid: number;
    services: { name: string; pid: number | null; port: number | null }[];
    vms: { id: string; zone: string | null }[];
    ports: Record<string, number>;
  }[];
}

const cleanups: (() => void)[] = [];
afterEach(async () => {
  // Every process this file started (managers and the services they spawned, orphaned or not).
  await killTagged();
  for (const c of cleanups.splice(0)) c();
});

function setup(extraConfig: Record<string, unknown> = {}) {
  const tmp = tempDir('sm-e2e-');
  const sessionDir = path.join(tmp.dir, 'sessions');
  const recordFile = path.join(tmp.dir, 'cleanup-calls.jsonl');
  writeFileSync(recordFile, '');
  const configFile = path.join(tmp.dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      services: [
        {
          name: 'cache-service',
          command: '{node}',
          args: ['{builtin:example/cache-service}'],
          port: 'main_api',
        },
      ],
      cleanup: {
        vm: {
          command: [
            process.execPath,
            path.join(FIXTURES, 'record-cleanup.mjs'),
            '{id}',
            '--zone',
            '{zone}',
            '--quiet',
          ],
          notFoundPattern: 'was not found',
        },
      },
      shutdown: { graceMs: 2_000 },
      ...extraConfig,
    }),
  );
  const env = { CORE_SESSION_DIR: sessionDir, RECORD_FILE: recordFile };
  const started: Running[] = [];
  cleanups.push(() => {
    for (const r of started) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    tmp.remove();
  });
  return {
    env,
    configFile,
    recordFile,
    start: (ports: Record<string, string>) => {
      const r = run(['start', '--config', configFile], { ...env, ...ports });
      started.push(r);
      return r;
    },
    status: async (): Promise<StatusJson> => {
      const { code, stdout, stderr } = await runToEnd(['status', '--json'], env);
      expect(code, stderr).toBe(0);
      // The status document lists dead sessions too (with their orphans); these tests look at the live ones.
      const doc = JSON.parse(stdout) as {
        sessions: (Omit<StatusJson['sessions'][number], 'services'> & {
          liveness: string;
          services: { service: string; pid: number | null; port: number | null }[];
        })[];
      };
      const live = doc.sessions.filter((s) => s.liveness !== 'dead');
      return {
        sessions: live.map((s) => ({
          ...s,
          services: s.services.map(({ service, pid, port }) => ({ name: service, pid, port })),
        })),
        staleSessions: doc.sessions.length - live.length,
      };
    },
  };
}

const healthy = (e: Record<string, unknown>) => e['msg'] === 'all services healthy';

async function controlPortOf(r: Running): Promise<number> {
  const line = await r.waitForLog(healthy);
  return Number(String(line['control']).split(':').pop());
}

describe('system-manager start (real processes)', { timeout: 60_000 }, () => {
  it('starts the cache service, serves health/status/metrics, shows in status, and SIGTERM cleans up', async () => {
    const t = setup();
    const ports = await portEnv();
    const manager = t.start(ports);
    const control = await controlPortOf(manager);
    expect(control).toBe(Number(ports['SYSTEM_MANAGER_PORT_CONTROL']));

    expect((await httpGet(control, '/health')).status).toBe(200);
    const status = JSON.parse((await httpGet(control, '/status')).body);
    expect(status.state).toBe('running');
    expect(status.ports.main_api).toBe(Number(ports['SYSTEM_MANAGER_PORT_MAIN_API']));
    expect(status.aliases.backendPort).toBe(status.ports.main_api);
    const servicePid = status.services[0].pid as number;
    expect(isAlive(servicePid)).toBe(true);

    // Two lookups of one key: a miss, then a hit, reported over IPC into the StatsRegistry.
    const api = status.ports.main_api as number;
    expect(JSON.parse((await httpGet(api, '/lookup?key=k1')).body).cache).toBe('miss');
    expect(JSON.parse((await httpGet(api, '/lookup?key=k1')).body).cache).toBe('hit');
    await waitUntil(
      async () =>
        /cache_hits_total\{cache="cache-service"\} 1/.test((await httpGet(control, '/metrics')).body),
      5_000,
      'hit in /metrics',
    );
    const metrics = (await httpGet(control, '/metrics')).body;
    expect(metrics).toMatch(/cache_misses_total\{cache="cache-service"\} 1/);

    const listed = await t.status();
    expect(listed.sessions).toHaveLength(1);
    expect(listed.sessions[0]?.pid).toBe(manager.child.pid);
    expect(listed.sessions[0]?.services).toEqual([{ name: 'cache-service', pid: servicePid, port: api }]);

    manager.child.kill('SIGTERM');
    const { code } = await manager.exited;
    expect(code).toBe(0);
    expect(isAlive(servicePid)).toBe(false);
    expect((await t.status()).sessions).toEqual([]);
  });

  it('two starts at the same moment come up with different ports; stopping one leaves the other running', async () => {
    const t = setup();
    const ports = await portEnv(); // both prefer the same ports
    const a = t.start(ports);
    const b = t.start(ports);
    const [controlA, controlB] = await Promise.all([controlPortOf(a), controlPortOf(b)]);
    expect(controlA).not.toBe(controlB);
    const statusA = JSON.parse((await httpGet(controlA, '/status')).body);
    const statusB = JSON.parse((await httpGet(controlB, '/status')).body);
    expect(statusA.ports.main_api).not.toBe(statusB.ports.main_api);
    const servicesB = statusB.services[0].pid as number;

    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(isAlive(servicesB)).toBe(true);
    expect((await httpGet(controlB, '/health')).status).toBe(200);
    const listed = await t.status();
    expect(listed.sessions.map((s) => s.pid)).toEqual([b.child.pid]);
  });

  it('after kill -9 of a manager, sessions cleanup kills exactly its orphaned service and nothing of a live session', async () => {
    const t = setup();
    const victim = t.start(await portEnv());
    const survivor = t.start(await portEnv());
    const [victimControl, survivorControl] = await Promise.all([
      controlPortOf(victim),
      controlPortOf(survivor),
    ]);
    const orphan = JSON.parse((await httpGet(victimControl, '/status')).body).services[0].pid as number;
    const survivorService = JSON.parse((await httpGet(survivorControl, '/status')).body).services[0]
      .pid as number;

    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(isAlive(orphan)).toBe(true); // kill -9 leaves the service orphaned

    // `status` lists without reaping: it must not drop the dead session's records before cleanup sees them.
    const before = (await t.status()) as StatusJson & { staleSessions: number };
    expect(before.sessions.map((s) => s.pid)).toEqual([survivor.child.pid]);
    expect(before.staleSessions).toBe(1);

    const { code, stdout } = await runToEnd(
      ['sessions', 'cleanup', '--json', '--config', t.configFile],
      t.env,
    );
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.removed).toBe(1);
    expect(result.actions).toContainEqual(expect.objectContaining({ kind: 'process', outcome: 'killed' }));
    await waitUntil(() => !isAlive(orphan), 5_000, 'orphan to die');
    expect(isAlive(survivorService)).toBe(true);
    expect((await t.status()).sessions.map((s) => s.pid)).toEqual([survivor.child.pid]);
  });

  it('a service that exits at once is reported with its output; start exits 1 and leaves nothing behind', async () => {
    const t = setup({
      services: [
        {
          name: 'crasher',
          command: '{node}',
          args: ['-e', "console.error('boom: cannot open database'); process.exit(3)"],
          port: 'main_api',
        },
      ],
    });
    const manager = t.start(await portEnv());
    const { code } = await manager.exited;
    expect(code).toBe(1);
    expect(manager.stderr()).toContain('crasher exited before it became healthy');
    expect(manager.stderr()).toContain('boom: cannot open database');
    expect((await t.status()).sessions).toEqual([]);
  });

  it('a service that never becomes healthy is stopped and start exits 1', async () => {
    const t = setup({
      services: [
        {
          name: 'sleeper',
          command: '{node}',
          args: ['-e', "console.log('warming up'); setInterval(() => {}, 1000)"],
          port: 'main_api',
          startTimeoutMs: 3_000, // room for the service to print "warming up" on a loaded machine
        },
      ],
    });
    const manager = t.start(await portEnv());
    const started = await manager.waitForLog((e) => e['msg'] === 'service started');
    const { code } = await manager.exited;
    expect(code).toBe(1);
    expect(manager.stderr()).toContain('did not become healthy');
    expect(manager.stderr()).toContain('warming up');
    expect(isAlive(Number(started['servicePid']))).toBe(false);
    expect((await t.status()).sessions).toEqual([]);
  });

  it('reaps VMs of dead sessions with the configured command; "not found" counts as done', async () => {
    const t = setup();
    const owners = [
      run(['vm-alpha', 'us-east1-b'], t.env, path.join(FIXTURES, 'own-vm.ts')),
      run(['vm-missing-7', 'europe-west1-c'], t.env, path.join(FIXTURES, 'own-vm.ts')),
    ];
    await Promise.all(
      owners.map((o) => waitUntil(() => o.stdout().includes('sessionId'), 15_000, 'VM registration')),
    );
    for (const o of owners) o.child.kill('SIGKILL');
    await Promise.all(owners.map((o) => o.exited));

    const { code, stdout, stderr } = await runToEnd(
      ['sessions', 'cleanup', '--json', '--config', t.configFile],
      t.env,
    );
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.removed).toBe(2);
    const outcomes = Object.fromEntries(
      result.actions
        .filter((a: { kind: string }) => a.kind === 'vm')
        .map((a: { id: string; outcome: string }) => [a.id, a.outcome]),
    );
    expect(outcomes).toEqual({ 'vm-alpha': 'deleted', 'vm-missing-7': 'already-gone' });
    const calls = readFileSync(t.recordFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(calls).toContainEqual(['vm-alpha', '--zone', 'us-east1-b', '--quiet']);
    expect(calls).toContainEqual(['vm-missing-7', '--zone', 'europe-west1-c', '--quiet']);
  });

  it('a VM whose cleanup fails is kept (adopted) and retried by the next cleanup, never forgotten', async () => {
    const t = setup();
    const owner = run(['vm-broken-3', 'asia-east1-a'], t.env, path.join(FIXTURES, 'own-vm.ts'));
    await waitUntil(() => owner.stdout().includes('sessionId'), 15_000, 'VM registration');
    owner.child.kill('SIGKILL');
    await owner.exited;

    const first = await runToEnd(['sessions', 'cleanup', '--json', '--config', t.configFile], t.env);
    expect(first.code).toBe(1);
    const report = JSON.parse(first.stdout);
    expect(report.actions).toEqual([
      expect.objectContaining({ kind: 'vm', id: 'vm-broken-3', outcome: 'failed' }),
    ]);
    expect(report.adopted.map((a: { id: string }) => a.id)).toEqual(['vm-broken-3']);
    expect(first.stderr).toContain('permission denied');

    // The cleanup process has exited, so the adopting session is stale in turn: the next cleanup retries the VM.
    const second = await runToEnd(['sessions', 'cleanup', '--json', '--config', t.configFile], t.env);
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout).adopted.map((a: { id: string }) => a.id)).toEqual(['vm-broken-3']);
    const calls = readFileSync(t.recordFile, 'utf8').trim().split('\n');
    expect(calls).toEqual([
      JSON.stringify(['vm-broken-3', '--zone', 'asia-east1-a', '--quiet']),
      JSON.stringify(['vm-broken-3', '--zone', 'asia-east1-a', '--quiet']),
    ]);
  });

  it('a second signal during shutdown exits 1 at once; the exit path still stops the services and unregisters', async () => {
    const stubborn =
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));" +
      "require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";
    const t = setup({
      services: [{ name: 'stubborn', command: '{node}', args: ['-e', stubborn], port: 'main_api' }],
      shutdown: { graceMs: 30_000 },
    });
    const manager = t.start(await portEnv());
    const started = await manager.waitForLog((e) => e['msg'] === 'service started');
    await manager.waitForLog(healthy);
    const servicePid = Number(started['servicePid']);

    manager.child.kill('SIGTERM');
    await manager.waitForLog((e) => e['msg'] === 'shutting down');
    await waitUntil(
      () => manager.stderr().length > 0 && isAlive(servicePid),
      2_000,
      'service still up after the first signal',
    );
    manager.child.kill('SIGTERM');
    const { code } = await manager.exited;
    expect(code).toBe(1);
    expect(manager.stderr()).toContain('second signal during shutdown');
    await waitUntil(() => !isAlive(servicePid), 5_000, 'service to be gone');
    expect((await t.status()).sessions).toEqual([]);
  });
});
