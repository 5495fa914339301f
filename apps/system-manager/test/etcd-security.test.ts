// The app on an etcd registry with client TLS and authentication (a real
// 3-member cluster with --client-cert-auth, certificates of a throw-away CA
// made with openssl, a user whose role covers the fleet's key prefix and one
// whose role does not): `doctor` passes and `start` registers its session
// with `session.etcd.tls` files, `user` and `passwordFile`; a wrong password
// and a role that does not cover the prefix fail `doctor` naming what is wrong.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsMaterial, type TlsMaterial } from '../../../packages/session-etcd/test/tls-material.js';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd.js';
import { storeCheck } from './fleet-io.js';
import { killTagged, startManager, tempDir } from './helpers.js';

const PREFIX = 'sm-secure/';

afterEach(async () => {
  await killTagged();
});

describe.skipIf(SKIP_REASON !== null)('system-manager on a TLS + auth etcd cluster', () => {
  let dir: string;
  let material: TlsMaterial;
  let cluster: EtcdCluster;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sm-etcd-tls-'));
    chmodSync(dir, 0o700);
    material = await makeTlsMaterial(dir);
    cluster = await startEtcdCluster(3, {
      tls: {
        ca: material.ca,
        serverCert: material.serverCert,
        serverKey: material.serverKey,
        adminCert: material.rootCert,
        adminKey: material.rootKey,
      },
    });
    const ctl = cluster.ctl;
    await ctl('user', 'add', 'root', '--new-user-password=root-secret');
    await ctl('user', 'grant-role', 'root', 'root');
    await ctl('role', 'add', 'fleet');
    await ctl('role', 'grant-permission', 'fleet', '--prefix=true', 'readwrite', PREFIX);
    await ctl('user', 'add', 'system-manager', '--new-user-password=fleet-secret');
    await ctl('user', 'grant-role', 'system-manager', 'fleet');
    await ctl('role', 'add', 'reader');
    await ctl('role', 'grant-permission', 'reader', '--prefix=true', 'read', PREFIX);
    await ctl('user', 'add', 'reader', '--new-user-password=reader-secret');
    await ctl('user', 'grant-role', 'reader', 'reader');
    await ctl('auth', 'enable');
  }, 60_000);
  afterAll(async () => {
    await killTagged();
    await cluster?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A config naming the cluster with TLS files, `user` and a 0600 password file holding `password`. */
  function secureConfig(
    user: string,
    password: string,
  ): { configFile: string; etcd: Record<string, unknown> } {
    const tmp = tempDir('sm-etcd-secure-');
    const passwordFile = path.join(tmp.dir, 'etcd.password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const etcd = {
      endpoints: cluster.endpoints,
      keyPrefix: PREFIX,
      tls: { caFile: material.ca, certFile: material.clientCert, keyFile: material.clientKey },
      user,
      passwordFile,
    };
    const configFile = path.join(tmp.dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ services: [], session: { leaseTtlMs: 2_000, heartbeatMs: 400, etcd } }),
    );
    return { configFile, etcd };
  }

  it('doctor passes and start registers its session with the TLS files, user and password file', {
    timeout: 60_000,
  }, async () => {
    const { configFile, etcd } = secureConfig('system-manager', 'fleet-secret');
    const tmp = tempDir('sm-etcd-secure-run-');
    const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions') };
    const check = await storeCheck(['doctor', '--json', '--config', configFile], env);
    expect(check).toMatchObject({ status: 'ok' });
    expect(check.message).toMatch(/^etcd cluster of 3 members .*every endpoint answers$/);

    const m = await startManager({
      services: [
        { name: 'cache', command: '{node}', args: ['{builtin:example/cache-service}'], port: 'main_api' },
      ],
      session: { leaseTtlMs: 2_000, heartbeatMs: 400, etcd },
    });
    await m.ready();
    const status = await m.status();
    expect(status.sessionStore).toMatchObject({ kind: 'etcd', connected: true });
    expect(status.store.up).toBe(true);
    expect(String((status.sessionStore as { location: string }).location)).toContain('https://127.0.0.1');
    const keys = await cluster.ctl('get', '--prefix', '--keys-only', PREFIX);
    expect(keys).toContain(`${PREFIX}s/${status.sessionId}`);
    expect(keys).not.toContain('doctor-access-probe'); // doctor's access check writes nothing
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it('doctor fails on a wrong password, naming the authentication failure', { timeout: 30_000 }, async () => {
    const { configFile } = secureConfig('system-manager', 'not-the-secret');
    const tmp = tempDir('sm-etcd-secure-run-');
    const check = await storeCheck(['doctor', '--json', '--config', configFile], {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
    });
    expect(check.status).toBe('fail');
    expect(check.message).toContain('authentication failed');
    expect(check.message).not.toContain('not-the-secret');
  });

  it('doctor fails for a user whose role may only read the prefix, naming the prefix and the fix', {
    timeout: 30_000,
  }, async () => {
    const { configFile } = secureConfig('reader', 'reader-secret');
    const tmp = tempDir('sm-etcd-secure-run-');
    const check = await storeCheck(['doctor', '--json', '--config', configFile], {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
    });
    expect(check.status).toBe('fail');
    expect(check.message).toContain(`user "reader" may not read and write keys under ${PREFIX} (`);
    expect(check.message).toContain('permission denied');
    expect(check.fix).toContain(`--prefix=true readwrite ${PREFIX}`);
  });
});
