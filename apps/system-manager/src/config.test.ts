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

  it('reports unreadable and non-JSON files as E_CONFIG_READ', () => {
    expect(() => loadConfig('/nonexistent/config.json')).toThrow(
      /cannot read config file \/nonexistent\/config.json/,
    );
    expect(() => loadConfig(writeConfig('{ nope'))).toThrow(/is not valid JSON/);
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
