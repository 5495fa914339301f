// TLS and user/password authentication against a real 3-member cluster
// (the cluster helper's `tls` option): client URLs over TLS with
// --client-cert-auth, certificates from a throw-away CA made with openssl in
// a 0700 temp dir (removed after), authentication enabled with a root user,
// a `fleet` user whose role covers the fleet's key prefix only, and an
// `outsider` whose role covers another prefix. The store works with the right
// CA, client certificate and password; every wrong piece is refused within
// the timeout with an error that names what failed, and nothing crashes.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdSessionStoreOptions } from '../src/index.js';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { recordOf, remoteOwner, storeOn } from './helpers.js';
import { makeTlsMaterial, type TlsMaterial } from './tls-material.js';

const PREFIX = 'secure-fleet/';
const UNAVAILABLE_MS = 3_000;

describe.skipIf(SKIP_REASON !== null)(
  'EtcdSessionStore with TLS and authentication',
  { timeout: 30_000 },
  () => {
    let dir: string;
    let material: TlsMaterial;
    let cluster: EtcdCluster;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'session-etcd-tls-'));
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
      await ctl('user', 'add', 'fleet', '--new-user-password=fleet-secret');
      await ctl('user', 'grant-role', 'fleet', 'fleet');
      await ctl('role', 'add', 'elsewhere');
      await ctl('role', 'grant-permission', 'elsewhere', '--prefix=true', 'readwrite', 'another-fleet/');
      await ctl('user', 'add', 'outsider', '--new-user-password=outsider-secret');
      await ctl('user', 'grant-role', 'outsider', 'elsewhere');
      await ctl('auth', 'enable');
    }, 60_000);
    afterAll(async () => {
      await cluster?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const goodTls = () => ({ ca: material.ca, cert: material.clientCert, key: material.clientKey });

    /** A store of `options` with a session of its own; returns the error of its first write (or null). */
    async function firstWrite(options: Partial<EtcdSessionStoreOptions>) {
      const warnings: string[] = [];
      const store = storeOn(cluster.endpoints, PREFIX, {
        unavailableTimeoutMs: UNAVAILABLE_MS,
        logger: { warn: (_obj: unknown, message: string) => warnings.push(message) },
        ...options,
      });
      const owner = remoteOwner('secure');
      store.attach(owner);
      const started = Date.now();
      const error = await store.writeRecord(recordOf(owner, [])).then(
        () => null,
        (e: unknown) => e as Error & { code?: string; refusal?: string },
      );
      return { error, waitedMs: Date.now() - started, warnings, store };
    }

    it('the right CA, client certificate, user and password: register, claim, list', async () => {
      const store = storeOn(cluster.endpoints, PREFIX, {
        tls: goodTls(),
        user: 'fleet',
        password: 'fleet-secret',
      });
      const owner = remoteOwner('secure');
      store.attach(owner);
      await store.writeRecord(recordOf(owner, ['vm-secure']));
      const outcome = await store.claim({ kind: 'vm', id: 'vm-secure', owner, holderIsDead: () => false });
      expect(outcome.ok).toBe(true);
      const sessions = await store.listSessions();
      expect(sessions.map((s) => [s.record.sessionId, s.lease])).toEqual([[owner.sessionId, 'held']]);
      expect((await store.listClaims('vm')).map((c) => [c.id, c.holder.sessionId])).toEqual([
        ['vm-secure', owner.sessionId],
      ]);
      expect(store.connected).toBe(true);
      expect(await store.removeRecord(owner.sessionId)).toBe(true);
    });

    it('a CA that did not sign the members: unavailable within the timeout, naming TLS and the CA', async () => {
      const { error, waitedMs, warnings } = await firstWrite({
        tls: { ca: material.otherCa, cert: material.clientCert, key: material.clientKey },
        user: 'fleet',
        password: 'fleet-secret',
      });
      expect(error?.code).toBe('E_SESSION_STORE_UNAVAILABLE');
      expect(error?.message).toMatch(/TLS: the member's certificate is not trusted .*tls\.ca/);
      expect(waitedMs).toBeLessThan(UNAVAILABLE_MS + 3_000);
      expect(warnings.some((w) => /unreachable \(TLS: /.test(w))).toBe(true);
    });

    it('no client certificate: refused by the members, and the error says so', async () => {
      const { error, waitedMs } = await firstWrite({
        tls: { ca: material.ca },
        user: 'fleet',
        password: 'fleet-secret',
      });
      expect(error?.code).toBe('E_SESSION_STORE_UNAVAILABLE');
      expect(error?.message).toMatch(
        /TLS: the member refused this client's certificate .*tls\.cert and tls\.key/,
      );
      expect(waitedMs).toBeLessThan(UNAVAILABLE_MS + 3_000);
    });

    it('a wrong password: an authentication error at once, naming the user and never the password', async () => {
      const { error, waitedMs } = await firstWrite({
        tls: goodTls(),
        user: 'fleet',
        password: 'not-the-secret',
      });
      expect(error?.code).toBe('E_SESSION_STORE_ACCESS');
      expect(error?.refusal).toBe('authentication');
      expect(error?.message).toMatch(/authentication failed for user "fleet"/);
      expect(error?.message).not.toMatch(/not-the-secret/);
      expect(waitedMs).toBeLessThan(UNAVAILABLE_MS);
    });

    it('a user whose role does not cover the prefix: a permission error naming the prefix', async () => {
      const { error, waitedMs, store } = await firstWrite({
        tls: goodTls(),
        user: 'outsider',
        password: 'outsider-secret',
      });
      expect(error?.code).toBe('E_SESSION_STORE_ACCESS');
      expect(error?.refusal).toBe('permission');
      expect(error?.message).toMatch(
        /permission denied for user "outsider".*readwrite on the key prefix "secure-fleet\/"/,
      );
      expect(waitedMs).toBeLessThan(UNAVAILABLE_MS);
      await expect(store.listSessions()).rejects.toMatchObject({ code: 'E_SESSION_STORE_ACCESS' });
    });
  },
);
