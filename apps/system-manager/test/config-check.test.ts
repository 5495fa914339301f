// config check like nginx -t, and exit code 78 for an invalid config (also from start).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { portEnv } from './helpers.js';
import { runToEnd, scratch } from './operator.js';

describe('config check and exit code 78', () => {
  it('prints the resolved config and exits 0; names every bad field and exits 78', async () => {
    const dir = scratch();
    const good = path.join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        $schema: '../config.schema.json',
        services: [{ name: 'a', command: './run.sh', port: 'main_api' }],
      }),
    );
    const ok = await runToEnd(['config', 'check', '--config', good], {});
    expect(ok.code, ok.stderr).toBe(0);
    const resolved = JSON.parse(ok.stdout);
    expect(resolved.services[0]).toMatchObject({
      command: path.join(dir, 'run.sh'),
      cwd: dir,
      startTimeoutMs: 10000,
    });
    expect(ok.stderr).toContain(`${good} (--config) is valid`);

    const bad = path.join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ services: [{ name: 'a', command: '', port: 'Main' }], shutdown: { graceMs: 'x' } }),
    );
    const failed = await runToEnd(['config', 'check', '--config', bad], {});
    expect(failed.code).toBe(78);
    expect(failed.stderr).toMatch(/services\.0\.command/);
    expect(failed.stderr).toMatch(/services\.0\.port/);
    expect(failed.stderr).toMatch(/shutdown\.graceMs/);
    const json = await runToEnd(['config', 'check', '--json'], { SYSTEM_MANAGER_CONFIG: bad });
    expect(json.code).toBe(78);
    expect(JSON.parse(json.stdout).errors.length).toBeGreaterThanOrEqual(3);
  }, 30_000); // three CLI runs: each a Node start-up

  it('start with an invalid or missing config exits 78, so RestartPreventExitStatus=78 stops the restarts', async () => {
    const dir = scratch();
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"services": 3}');
    const env = { CORE_SESSION_DIR: path.join(dir, 's'), ...(await portEnv()) };
    expect((await runToEnd(['start', '--config', bad], env)).code).toBe(78);
    expect((await runToEnd(['start', '--config', path.join(dir, 'missing.json')], env)).code).toBe(78);
    writeFileSync(bad, '{ not json');
    expect((await runToEnd(['start'], { ...env, SYSTEM_MANAGER_CONFIG: bad })).code).toBe(78);
  }, 30_000); // three CLI runs: each a Node start-up

  // Nine CLI runs, each a Node start-up: a timeout of its own.
  it('config check catches what start refuses (ports, a FIFO); start exits 78 on each, a bad port override too', async () => {
    const dir = scratch();
    const env = { CORE_SESSION_DIR: path.join(dir, 's'), ...(await portEnv()) };
    const service = (name: string, port: string) => ({ name, command: 'sleep', args: ['30'], port });
    const cases: [string, object, RegExp][] = [
      ['unknown-port', { services: [service('a', 'nope')] }, /services\.0\.port: no port named "nope"/],
      [
        'shared-port',
        { ports: { api: 18555 }, services: [service('a', 'api'), service('b', 'api')] },
        /services\.1\.port: port "api" is already the port of services\.0/,
      ],
      [
        'control-port',
        { services: [service('a', 'control')] },
        /"control" is the manager's control endpoint/,
      ],
    ];
    for (const [name, config, expected] of cases) {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(config));
      const check = await runToEnd(['config', 'check', '--config', file], {});
      expect(check.code, `${name}: ${check.stderr}`).toBe(78);
      expect(check.stderr).toMatch(expected);
      const start = await runToEnd(['start', '--config', file], env);
      expect(start.code, `${name}: ${start.stderr}`).toBe(78);
    }
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    // Bounded by the test's timeout: a FIFO without a writer used to hang the read for ever.
    const check = await runToEnd(['config', 'check', '--config', fifo], {});
    expect(check.code).toBe(78);
    expect(check.stderr).toMatch(/a FIFO, not a regular file/);
    expect((await runToEnd(['start', '--config', fifo], env)).code).toBe(78);
    const override = await runToEnd(['start'], { ...env, SYSTEM_MANAGER_PORT_MAIN_API: 'abc' });
    expect(override.code, override.stderr).toBe(78);
  }, 60_000);
});
