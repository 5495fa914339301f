import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { etcdEndpointsFromEnv } from '@core/session-etcd';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { parseConfig } from './config.js';
import { ConfigError } from './errors.js';
import { etcdStoreSettings } from './etcd-store-options.js';

const settingsOf = (session: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  etcdStoreSettings(parseConfig({ session }), env, etcdEndpointsFromEnv);

describe('etcdStoreSettings', () => {
  it('the env endpoints win; the lease settings and key prefix pass through', () => {
    const settings = settingsOf(
      {
        leaseTtlMs: 3_000,
        heartbeatMs: 1_000,
        etcd: { endpoints: ['http://a:2379'], keyPrefix: 'fleet-a/' },
      },
      { CORE_SESSION_ETCD_ENDPOINTS: ' b:2379 , http://c:2379 ' },
    );
    expect(settings.source).toBe('CORE_SESSION_ETCD_ENDPOINTS');
    expect(settings.options).toEqual({
      endpoints: ['http://b:2379', 'http://c:2379'],
      leaseTtlMs: 3_000,
      heartbeatMs: 1_000,
      keyPrefix: 'fleet-a/',
    });
    expect(settingsOf({ etcd: { endpoints: ['https://a:2379'] } }).source).toBe(
      'config session.etcd.endpoints',
    );
  });

  it('reads the TLS files and the password (without its trailing newline) at once', () => {
    const { dir } = tempDir('sm-etcd-options-');
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(dir, name), `PEM ${name}`);
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 's3cret\n', { mode: 0o600 });
    const { options } = settingsOf({
      etcd: {
        endpoints: ['https://a:2379'],
        tls: {
          caFile: path.join(dir, 'ca.pem'),
          certFile: path.join(dir, 'cert.pem'),
          keyFile: path.join(dir, 'key.pem'),
        },
        user: 'fleet',
        passwordFile,
      },
    });
    expect(String(options.tls?.ca)).toBe('PEM ca.pem');
    expect(String(options.tls?.cert)).toBe('PEM cert.pem');
    expect(String(options.tls?.key)).toBe('PEM key.pem');
    expect(options).toMatchObject({ user: 'fleet', password: 's3cret' });
  });

  it('refuses, as a config error naming the field: an unsafe or empty password file, a bad env endpoint, an odd TTL, TLS to http', () => {
    const { dir } = tempDir('sm-etcd-options-');
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 's3cret', { mode: 0o600 });
    const withPassword = { etcd: { endpoints: ['http://a:2379'], user: 'fleet', passwordFile } };
    chmodSync(passwordFile, 0o640);
    expect(() => settingsOf(withPassword)).toThrow(
      /passwordFile: .* readable or writable by others \(mode 0640\)/,
    );
    chmodSync(passwordFile, 0o600);
    writeFileSync(passwordFile, '\n');
    expect(() => settingsOf(withPassword)).toThrow(/passwordFile: the password file .* is empty/);
    const link = path.join(dir, 'link');
    symlinkSync(passwordFile, link);
    expect(() => settingsOf({ etcd: { ...withPassword.etcd, passwordFile: link } })).toThrow(
      /is a symbolic link: not followed/,
    );
    expect(() => settingsOf({}, { CORE_SESSION_ETCD_ENDPOINTS: 'http://a:2379,not a url' })).toThrow(
      ConfigError,
    );
    expect(() => settingsOf({}, { CORE_SESSION_ETCD_ENDPOINTS: 'http://a:2379,not a url' })).toThrow(
      /CORE_SESSION_ETCD_ENDPOINTS: expected a client URL/,
    );
    // Selected by the env alone, the config's lease settings still have to suit etcd.
    expect(() =>
      settingsOf({ leaseTtlMs: 1_500, heartbeatMs: 500 }, { CORE_SESSION_ETCD_ENDPOINTS: 'a:2379' }),
    ).toThrow(/CORE_SESSION_ETCD_ENDPOINTS selects the etcd registry, but: .*got 1500: use 1000 or 2000/);
    expect(() =>
      settingsOf(
        { etcd: { endpoints: ['https://a:2379'], tls: { caFile: path.join(dir, 'ca.pem') } } },
        { CORE_SESSION_ETCD_ENDPOINTS: 'http://b:2379' },
      ),
    ).toThrow(/TLS is configured but "http:\/\/b:2379" is not https:\/\//);
    expect(() =>
      settingsOf({ etcd: { endpoints: ['https://a:2379'], tls: { caFile: path.join(dir, 'none.pem') } } }),
    ).toThrow(/session\.etcd\.tls\.caFile: cannot read .*none\.pem \(ENOENT\)/);
  });
});
