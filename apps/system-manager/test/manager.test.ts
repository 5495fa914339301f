import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isSessionManagerAvailable } from '@core/session';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { AsyncSystemManager } from '../src/index.js';
import { FIXTURES, httpGet, killTagged, portEnv, RUN_TAG, TEST_TAG_VAR, tempDir } from './helpers.js';

const silent = pino({ level: 'silent' });
// Services spawned from this worker inherit its env: tag them so afterAll (and CI) find every one.
process.env[TEST_TAG_VAR] = RUN_TAG;
const tmp = tempDir('sm-manager-');
afterAll(async () => {
  await killTagged();
  tmp.remove();
});

describe('AsyncSystemManager (embedded)', () => {
  it('reads config and env without side effects', () => {
    const m = new AsyncSystemManager({
      config: { services: [{ name: 'api', command: 'true', port: 'main_api' }] },
      env: { SYSTEM_MANAGER_PORT_MAIN_API: '9300' },
      logger: silent,
    });
    expect(m.ports.main_api).toBe(9300);
    expect(m.status().state).toBe('idle');
    expect(isSessionManagerAvailable()).toBe(false);
  });

  it('resolves only the ports the config names; an alias of an unnamed port is a clear error', () => {
    const m = new AsyncSystemManager({ config: { services: [] }, env: {}, logger: silent });
    expect({ ...m.ports }).toEqual({ control: 8099 });
    expect(m.status().aliases).toEqual({});
    expect(() => m.backendPort).toThrow(
      /backendPort is the alias of the port "main_api", which this config does not name/,
    );
    expect(() => {
      m.frontendPort = 9000;
    }).toThrow(/"frontend"/);
  });

  it('m.ports and the aliases are live views of one registry, both ways', () => {
    const services = ['main_api', 'frontend', 'websocket_router'].map((port) => ({
      name: port,
      command: 'true',
      port,
    }));
    const m = new AsyncSystemManager({ config: { services }, env: {}, logger: silent });
    expect(m.backendPort).toBe(8010);
    expect(m.frontendPort).toBe(3000);
    expect(m.websocketPort).toBe(8001);
    m.ports.main_api = 9100;
    expect(m.backendPort).toBe(9100);
    expect(m.backend_port).toBe(9100);
    m.backendPort = 9101;
    expect(m.ports['main_api']).toBe(9101);
    m.frontend_port = 9102;
    expect(m.ports.frontend).toBe(9102);
    expect(m.status().aliases['frontendPort']).toBe(9102);
  });

  it('stop() runs the cleanup command for its own VMs and unregisters the session', async () => {
    const recordFile = path.join(tmp.dir, 'calls.jsonl');
    writeFileSync(recordFile, '');
    process.env['RECORD_FILE'] = recordFile;
    const m = new AsyncSystemManager({
      config: {
        services: [],
        cleanup: {
          vm: {
            command: [
              process.execPath,
              path.join(FIXTURES, 'record-cleanup.mjs'),
              '{id}',
              '--zone',
              '{zone}',
            ],
          },
        },
      },
      env: await portEnv(),
      logger: silent,
      sessionDir: path.join(tmp.dir, 'sessions'),
    });
    const started = await m.start();
    expect(isSessionManagerAvailable()).toBe(true);
    expect((await httpGet(started.controlPort, '/health')).status).toBe(200);
    const session = m.sessionManager();
    expect(await session.registerVm('vm-own', 'zone-a', ['api'])).toBe(true);

    const stopped = await m.stop();
    expect(stopped.cleanup).toEqual([{ kind: 'vm', id: 'vm-own', outcome: 'deleted' }]);
    expect(readFileSync(recordFile, 'utf8').trim()).toBe(JSON.stringify(['vm-own', '--zone', 'zone-a']));
    expect(await session.getMyResources()).toEqual([]);
    expect(Object.keys(await session.getAllActiveSessions())).not.toContain(session.sessionId);
    expect(m.status().state).toBe('stopped');
  });

  it('validateAll() heals stats drift and a lost session record of a running service, then finds nothing', async () => {
    const server =
      "require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";
    const m = new AsyncSystemManager({
      config: { services: [{ name: 'svc', command: '{node}', args: ['-e', server], port: 'main_api' }] },
      env: { ...(await portEnv()), XDG_STATE_HOME: tmp.dir }, // the service's log file goes there
      logger: silent,
      sessionDir: path.join(tmp.dir, 'sessions'), // one process-wide session per test file
    });
    await m.start();
    try {
      const session = m.sessionManager();
      const [own] = await session.getMyResources().then((rs) => rs.filter((r) => r.kind === 'process'));
      expect(own?.id).toMatch(/^svc@\d+$/);
      await session.unregisterResource('process', own!.id);
      await m.stats.tracker('svc').restore({
        cacheHits: 5,
        cacheMisses: 5,
        cacheExpired: 0,
        totalQueries: 12,
        queriesWhileUninitialized: 0,
        costSavedUsd: 0.01,
        expiredEntriesCleaned: 0,
        cleanupRuns: 0,
        cleanupErrors: 0,
      });

      const first = await m.validateAll();
      expect(first.consistent).toBe(false);
      expect(first.healed).toContain('stats[svc] totalQueries: 12 → 10');
      expect(first.healed).toContain(`session process:${own!.id}: missing → registered`);
      expect((await session.getMyResources()).map((r) => r.id)).toContain(own!.id);
      expect(m.status().lastValidation).toEqual(first);

      const second = await m.validateAll();
      expect(second).toMatchObject({ consistent: true, healed: [] });
    } finally {
      await m.stop();
    }
  });
});
