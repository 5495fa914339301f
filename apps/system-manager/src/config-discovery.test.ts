import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { loadConfig, loadConfigWithSource, parseConfig } from './config.js';
import { discoverConfig, userConfigFile } from './config-discovery.js';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from './config-json-schema.js';
import { ConfigError, EX_CONFIG, exitCodeOf } from './errors.js';

const removals: (() => void)[] = [];
afterEach(() => {
  for (const r of removals.splice(0)) r();
});
function scratch(): string {
  const t = tempDir('sm-discovery-');
  removals.push(t.remove);
  return t.dir;
}
function write(file: string, value: unknown): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}
const svc = { name: 'api', command: 'node', port: 'main_api' };

describe('config discovery', () => {
  it('--config wins over $SYSTEM_MANAGER_CONFIG, which wins over the default locations', () => {
    const dir = scratch();
    const home = path.join(dir, 'home');
    const userFile = write(path.join(home, '.config/system-manager/config.json'), {});
    const env = { SYSTEM_MANAGER_CONFIG: path.join(dir, 'env.json') };
    expect(discoverConfig({ flag: 'x.json', env, uid: 1000, home })).toMatchObject({
      origin: 'flag',
      file: path.resolve('x.json'),
    });
    expect(discoverConfig({ env, uid: 1000, home })).toMatchObject({
      origin: 'env',
      file: env.SYSTEM_MANAGER_CONFIG,
    });
    expect(discoverConfig({ env: {}, uid: 1000, home })).toMatchObject({ origin: 'user', file: userFile });
  });

  it('root reads /etc/system-manager/config.json, a user $XDG_CONFIG_HOME (absolute only), else the built-in config', () => {
    const dir = scratch();
    const systemFile = path.join(dir, 'etc/config.json');
    expect(discoverConfig({ env: {}, uid: 0, systemFile }).origin).toBe('builtin');
    write(systemFile, {});
    expect(discoverConfig({ env: {}, uid: 0, systemFile })).toMatchObject({
      origin: 'system',
      file: systemFile,
    });
    const xdg = path.join(dir, 'xdg');
    expect(userConfigFile({ XDG_CONFIG_HOME: xdg }, '/home/u')).toBe(
      path.join(xdg, 'system-manager/config.json'),
    );
    expect(userConfigFile({ XDG_CONFIG_HOME: 'rel' }, '/home/u')).toBe(
      '/home/u/.config/system-manager/config.json',
    );
    const builtin = discoverConfig({ env: { XDG_CONFIG_HOME: xdg }, uid: 1000, home: dir });
    expect(builtin.origin).toBe('builtin');
    expect(builtin.description).toMatch(/^built-in example config/);
  });

  it('logs which config is in force', () => {
    const lines: string[] = [];
    const { source } = loadConfigWithSource({
      env: {},
      uid: 1000,
      home: scratch(),
      log: { info: (_o, m) => lines.push(m ?? '') },
    });
    expect(source.origin).toBe('builtin');
    expect(lines).toEqual([expect.stringMatching(/^config: built-in example config/)]);
  });

  it('a missing file named by the flag or the env is a ConfigError with exit code 78', () => {
    const missing = path.join(scratch(), 'nope.json');
    for (const options of [{ flag: missing }, { env: { SYSTEM_MANAGER_CONFIG: missing } }]) {
      let error: unknown;
      try {
        loadConfig(options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('E_CONFIG_READ');
      expect(exitCodeOf(error)).toBe(EX_CONFIG);
    }
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
});

describe('config files', () => {
  it('resolves relative cwd, command and ./args against the config file directory, not the current one', () => {
    const dir = scratch();
    const file = write(path.join(dir, 'conf dir/sm.json'), {
      services: [
        { ...svc, name: 'a', command: './bin/run', args: ['./server.js', '--flag', '../data', 'plain.js'] },
        { ...svc, name: 'b', cwd: 'work', port: 'frontend' },
        { ...svc, name: 'c', cwd: '/abs', port: 'event_ui' },
      ],
    });
    const base = path.join(dir, 'conf dir');
    const [a, b, c] = loadConfig(file).services;
    expect(a).toMatchObject({
      cwd: base,
      command: path.join(base, 'bin/run'),
      args: [path.join(base, 'server.js'), '--flag', path.join(dir, 'data'), 'plain.js'],
    });
    expect(b?.cwd).toBe(path.join(base, 'work'));
    expect(b?.command).toBe('node');
    expect(c?.cwd).toBe('/abs');
  });

  it('accepts $schema, and names every bad field at once (exit 78)', () => {
    expect(parseConfig({ $schema: './config.schema.json', services: [svc] }).services).toHaveLength(1);
    let error: unknown;
    try {
      parseConfig({ $schema: 'x', services: [{ ...svc, port: 'Main' }], dynamicRange: [1], extra: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const details = (error as ConfigError).details.join('\n');
    expect(details).toMatch(/services\.0\.port/);
    expect(details).toMatch(/dynamicRange/);
    expect(details).toMatch(/extra/);
    expect((error as ConfigError).exitCode).toBe(78);
    // Cross-field checks are all reported too.
    const dup = () => parseConfig({ services: [svc, svc], dynamicRange: [9, 1] });
    expect(dup).toThrow(ConfigError);
    try {
      dup();
    } catch (e) {
      // The second copy repeats the name and the port of the first; the range is reversed.
      expect((e as ConfigError).details).toEqual([
        'services.1.name: duplicate service name "api"',
        expect.stringMatching(/^dynamicRange: /),
        expect.stringMatching(/^services\.1\.port: port "main_api" is already the port of services\.0/),
      ]);
    }
  });
});

describe('published JSON Schema', () => {
  it('config.schema.json is the one generated from the zod schema (run `pnpm schema` after changing it)', () => {
    const published = JSON.parse(readFileSync(new URL(`../${CONFIG_SCHEMA_FILE}`, import.meta.url), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });

  it('a real JSON Schema validator (ajv) agrees with zod on good and bad configs', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(configJsonSchema());
    const good = {
      $schema: './node_modules/system-manager/config.schema.json',
      services: [{ ...svc, health: { type: 'tcp' } }],
      cleanup: { vm: { command: ['gcloud', 'delete', '{id}'] } },
      shutdown: { graceMs: 1000 },
    };
    expect(validate(good)).toBe(true);
    expect(() => parseConfig(good)).not.toThrow();
    for (const bad of [
      { services: [{ ...svc, port: 'Main' }] },
      { shutdown: { graceMs: -1 } },
      { nope: 1 },
    ]) {
      expect(validate(bad)).toBe(false);
      expect(() => parseConfig(bad)).toThrow(ConfigError);
    }
  });
});
