import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfig, parseConfig, resolveCommand } from './config.js';
import { SystemManagerError } from './errors.js';
import { renderCommand } from './reaper.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function writeConfig(content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sm-config-'));
  dirs.push(dir);
  const file = path.join(dir, 'config.json');
  writeFileSync(file, content);
  return file;
}

describe('config', () => {
  it('the built-in default starts the shipped example cache service on main_api', () => {
    const config = loadConfig();
    expect(config.services.map((s) => [s.name, s.port])).toEqual([['cache-service', 'main_api']]);
    const { command, args } = resolveCommand(config.services[0]!);
    expect(command).toBe(process.execPath);
    expect(args.at(-1)).toMatch(/example[/\\]cache-service\.(ts|js)$/);
    expect(config.intervals.healthPollMs).toBeGreaterThan(0);
    expect(parseConfig(DEFAULT_CONFIG)).toEqual(config);
  });

  it('names the file, the path of the bad field and the expected type', () => {
    const file = writeConfig(
      JSON.stringify({
        services: [{ name: 'api', command: 'node', port: 'main_api', startTimeoutMs: 'soon' }],
      }),
    );
    let error: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SystemManagerError);
    expect((error as SystemManagerError).code).toBe('E_CONFIG_INVALID');
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/services\.0\.startTimeoutMs: .*expected number/i);
  });

  it('rejects unknown top-level keys, duplicate service names and a bad notFoundPattern', () => {
    expect(() => parseConfig({ servics: [] })).toThrow(/servics/);
    const svc = { name: 'a', command: 'x', port: 'main_api' };
    expect(() => parseConfig({ services: [svc, svc] })).toThrow(/duplicate service name "a"/);
    expect(() => parseConfig({ cleanup: { vm: { command: ['x'], notFoundPattern: '(' } } })).toThrow(
      /cleanup\.vm\.notFoundPattern: expected a regular expression/,
    );
  });

  it('refuses what start would refuse about ports: unknown names, a shared port, the control port', () => {
    const svc = (name: string, port: string) => ({ name, command: 'x', port });
    expect(() => parseConfig({ services: [svc('a', 'nope')] })).toThrow(
      /services\.0\.port: no port named "nope" \(known: main_api, .*control\)/,
    );
    expect(() => parseConfig({ fallbacks: { nope: [9001] } })).toThrow(
      /fallbacks\.nope: no port named "nope"/,
    );
    expect(() =>
      parseConfig({ ports: { api: 18555 }, services: [svc('a', 'api'), svc('b', 'api')] }),
    ).toThrow(/services\.1\.port: port "api" is already the port of services\.0 \("a"\)/);
    expect(() => parseConfig({ services: [svc('a', 'control')] })).toThrow(
      /services\.0\.port: "control" is the manager's control endpoint/,
    );
    // One number for two names: against a default a service names, and between two of the file's own names.
    expect(() => parseConfig({ ports: { api: 8010 } })).not.toThrow(); // main_api is not named: 8010 is free to use
    expect(() => parseConfig({ ports: { api: 8010 }, services: [svc('a', 'main_api')] })).toThrow(
      /ports\.api: port 8010 is given to both "main_api" \(the default of "main_api"\) and "api" \(ports\.api\)/,
    );
    expect(() => parseConfig({ ports: { a: 18555, b: 18555 } })).toThrow(
      /ports\.b: port 18555 is given to both "a"/,
    );
    // A name of the file's own moves a default away from its number: no clash.
    expect(parseConfig({ ports: { main_api: 9000, api: 8010 }, services: [svc('a', 'api')] }).ports).toEqual({
      main_api: 9000,
      api: 8010,
    });
  });

  it('refuses a config path that is not a regular file at once (a FIFO without a writer, a directory)', () => {
    const dir = path.dirname(writeConfig('{}'));
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(() => loadConfig(fifo)).toThrow(
      /cannot read config file .*fifo\.json: a FIFO, not a regular file/,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(() => loadConfig(dir)).toThrow(/a directory, not a regular file/);
  });

  it('reports unreadable and non-JSON files as E_CONFIG_READ', () => {
    expect(() => loadConfig('/nonexistent/config.json')).toThrow(
      /cannot read config file \/nonexistent\/config.json/,
    );
    expect(() => loadConfig(writeConfig('{ nope'))).toThrow(/is not valid JSON/);
  });

  it('session.etcd: endpoints, key prefix and file paths checked; etcd beside Redis settings, odd TTLs and half pairs refused', () => {
    const etcd = {
      endpoints: ['https://10.0.0.5:2379', 'etcd-2.internal:2379'],
      keyPrefix: 'core-session/prod/',
    };
    const config = parseConfig({ session: { etcd } }, 'config', '/etc/sm');
    expect(config.session.etcd).toEqual(etcd);
    const withFiles = parseConfig(
      {
        session: {
          etcd: { endpoints: ['https://e:2379'], tls: { caFile: 'ca.pem' }, user: 'u', passwordFile: './pw' },
        },
      },
      'config',
      '/etc/sm',
    );
    expect(withFiles.session.etcd).toMatchObject({
      tls: { caFile: '/etc/sm/ca.pem' },
      passwordFile: '/etc/sm/pw',
    });
    expect(() => parseConfig({ session: { etcd: { endpoints: [] } } })).toThrow(/session\.etcd\.endpoints/);
    expect(() => parseConfig({ session: { etcd: { endpoints: ['ftp://e:2379'] } } })).toThrow(
      /session\.etcd\.endpoints\.0: a client URL/,
    );
    expect(() => parseConfig({ session: { etcd: { ...etcd, keyPrefix: 'no-slash' } } })).toThrow(/keyPrefix/);
    expect(() => parseConfig({ session: { etcd: { ...etcd, password: 'x' } } })).toThrow(/password/);
    expect(() => parseConfig({ session: { redisUrl: 'redis://r:6379', etcd } })).toThrow(
      /both session\.redisUrl \(Redis\) and session\.etcd \(etcd\)/,
    );
    expect(() => parseConfig({ session: { keyPrefix: '{x}:', etcd } })).toThrow(
      /session\.keyPrefix: a setting of the Redis registry.*session\.etcd\.keyPrefix/,
    );
    expect(() => parseConfig({ session: { leaseTtlMs: 2_500, heartbeatMs: 500, etcd } })).toThrow(
      /whole seconds.*got 2500: use 2000 or 3000/,
    );
    expect(() => parseConfig({ session: { leaseTtlMs: 500, heartbeatMs: 100, etcd } })).toThrow(
      /got 500: use 1000/,
    );
    expect(() => parseConfig({ session: { etcd: { ...etcd, user: 'u' } } })).toThrow(
      /"user" and "passwordFile" go together/,
    );
    expect(() =>
      parseConfig({ session: { etcd: { endpoints: ['http://e:2379'], tls: { caFile: '/ca.pem' } } } }),
    ).toThrow(/TLS is configured but "http:\/\/e:2379" is not https:\/\//);
  });

  it('renders cleanup command templates per resource', () => {
    const resource = {
      kind: 'vm',
      id: 'vm-1',
      zone: 'us-east1-b',
      registeredAt: 0,
      metadata: { project: 'p1' },
    };
    expect(
      renderCommand(
        ['gcloud', 'delete', '{id}', '--zone', '{zone}', '--project={metadata.project}'],
        resource,
      ),
    ).toEqual(['gcloud', 'delete', 'vm-1', '--zone', 'us-east1-b', '--project=p1']);
  });
});
