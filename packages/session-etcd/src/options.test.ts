import { describe, expect, it } from 'vitest';
import { ETCD_ENDPOINTS_ENV, EtcdSessionStore, etcdEndpointsFromEnv } from './index.js';

describe('EtcdSessionStore options', () => {
  const endpoints = ['http://127.0.0.1:2379'];

  it('rejects bad options naming the field and value, before connecting', () => {
    expect(() => new EtcdSessionStore({ endpoints: [] })).toThrow(RangeError);
    expect(() => new EtcdSessionStore({ endpoints: ['ftp://x:1'] })).toThrow(/"endpoints.0".*"ftp:\/\/x:1"/);
    expect(() => new EtcdSessionStore({ endpoints: ['h:70000'] })).toThrow(/"h:70000"/);
    expect(() => new EtcdSessionStore({ endpoints, leaseTtlMs: 2_500 })).toThrow(
      /"leaseTtlMs".*whole seconds.*2500/,
    );
    expect(() => new EtcdSessionStore({ endpoints, leaseTtlMs: 3_000, heartbeatMs: 3_000 })).toThrow(
      RangeError,
    );
    expect(() => new EtcdSessionStore({ endpoints, keyPrefix: 'no-slash' })).toThrow(
      /"keyPrefix".*"no-slash"/,
    );
    expect(() => new EtcdSessionStore({ endpoints: ['a:1', 'https://b:1'] })).toThrow(/mixes http/);
    expect(() => new EtcdSessionStore({ endpoints, user: 'app' })).toThrow(/"user" and "password"/);
    expect(() => new EtcdSessionStore({ endpoints, user: 'app', password: 5 as unknown as string })).toThrow(
      /"password".*\(hidden\)/,
    );
    expect(() => new EtcdSessionStore({ endpoints, tls: { ca: '/nonexistent/ca.pem' } })).toThrow(
      /"tls.ca": cannot read "\/nonexistent\/ca.pem" \(ENOENT\)/,
    );
    expect(() => new EtcdSessionStore({ endpoints, tls: { cert: new Uint8Array([1]) } })).toThrow(
      /"tls.cert" and "tls.key"/,
    );
  });

  it('normalises endpoints and names the location without credentials', async () => {
    const store = new EtcdSessionStore({
      endpoints: ['10.0.0.5:2379', 'http://etcd-1.example:2379'],
      user: 'u',
      password: 'secret',
    });
    expect(store.location).toBe('etcd http://10.0.0.5:2379,http://etcd-1.example:2379 (keys core-session/*)');
    expect(store.location).not.toMatch(/secret/);
    expect(store.leaseState).toBe('none');
    await store.close();
  });

  it(`reads ${ETCD_ENDPOINTS_ENV}: comma-separated, checked, undefined when unset or empty`, () => {
    expect(etcdEndpointsFromEnv({})).toBeUndefined();
    expect(etcdEndpointsFromEnv({ [ETCD_ENDPOINTS_ENV]: ' ' })).toBeUndefined();
    expect(etcdEndpointsFromEnv({ [ETCD_ENDPOINTS_ENV]: 'a:2379, https://b:2379,,[::1]:2379' })).toEqual([
      'http://a:2379',
      'https://b:2379',
      'http://[::1]:2379',
    ]);
    expect(() => etcdEndpointsFromEnv({ [ETCD_ENDPOINTS_ENV]: 'a:2379,--help' })).toThrow(
      new RegExp(`${ETCD_ENDPOINTS_ENV}: .*"--help"`),
    );
  });
});
