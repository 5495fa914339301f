import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { loadConfig, parseConfig } from '../config.js';
import { EX_CONFIG } from '../errors.js';
import { parseEnvironment, parseExecLine } from './systemd-syntax.js';
import { packageCacheOf, renderUnit, stopBudgetSeconds, UnitError, type UnitInputs } from './unit-file.js';

const scratch = tempDir('sm-unit-');
afterAll(() => scratch.remove());

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** Runs `systemd-analyze verify` on a unit text; returns its output (exit code in `status`). */
function verify(text: string, name = 'system-manager.service') {
  const dir = path.join(scratch.dir, `verify-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const file = path.join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function settings(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

function inputs(overrides: Partial<UnitInputs> = {}): UnitInputs {
  return {
    config: loadConfig(),
    configFile: null,
    user: 'root',
    group: 'root',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin:relative/bin' },
    nodePath: process.execPath,
    cliPath: '/opt/system-manager/dist/cli.js',
    ...overrides,
  };
}

describe('renderUnit', () => {
  it.skipIf(!hasAnalyze)('passes systemd-analyze verify, with a config path full of spaces, % and $', () => {
    // Node and the config both live in a directory whose name needs every escape.
    const nodeDir = path.join(scratch.dir, 'my node %d $HOME ;');
    mkdirSync(nodeDir, { recursive: true });
    const node = path.join(nodeDir, 'node');
    symlinkSync(process.execPath, node);
    const weird = path.join(scratch.dir, `my conf %d $HOME 'q' "dq"`);
    mkdirSync(weird, { recursive: true });
    const configFile = path.join(weird, 'sm conf.json');
    writeFileSync(configFile, '{}');
    const { text } = renderUnit(
      inputs({
        nodePath: node,
        configFile,
        config: loadConfig(configFile),
        cliPath: path.join(weird, 'cli.js'),
      }),
    );
    const result = verify(text);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
    // What systemd will exec, read back with systemd's rules: one argument per path, nothing expanded.
    const argv = parseExecLine(settings(text, 'ExecStart')[0] as string);
    expect(argv).toEqual([node, path.join(weird, 'cli.js'), 'start', '--config', configFile]);
    expect(settings(text, 'WorkingDirectory')[0]).toBe(weird.replaceAll('%', '%%'));
  });

  it.skipIf(!hasAnalyze)('systemd-analyze verify catches an unquoted path (the check is real)', () => {
    const weird = path.join(scratch.dir, 'with space');
    mkdirSync(weird, { recursive: true });
    const node = path.join(weird, 'node');
    symlinkSync(process.execPath, node);
    const { text } = renderUnit(inputs({ nodePath: node }));
    const broken = text.replace(/^ExecStart=.*$/m, `ExecStart=${node} /opt/cli.js start`);
    const result = verify(broken);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/not executable/);
  });

  it('is Type=notify with NotifyAccess=all, ExecReload=SIGHUP, KillMode=mixed, and stops restarting on exit 78', () => {
    const { text } = renderUnit(inputs());
    expect(settings(text, 'Type')).toEqual(['notify']);
    expect(settings(text, 'NotifyAccess')).toEqual(['all']);
    expect(settings(text, 'ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(settings(text, 'KillMode')).toEqual(['mixed']);
    expect(settings(text, 'Restart')).toEqual(['on-failure']);
    expect(settings(text, 'RestartPreventExitStatus')).toEqual([String(EX_CONFIG)]);
    expect(settings(text, 'RuntimeDirectory')).toEqual(['system-manager']);
    expect(settings(text, 'User')).toEqual(['root']);
    expect(settings(text, 'Group')).toEqual(['root']);
  });

  it('TimeoutStopSec covers the grace period plus every cleanup timeout with a margin', () => {
    const config = parseConfig({
      shutdown: { graceMs: 7000 },
      cleanup: {
        vm: { command: ['gcloud'], timeoutMs: 60_000 },
        disk: { command: ['x'], timeoutMs: 30_000 },
      },
    });
    const stop = Number(settings(renderUnit(inputs({ config })).text, 'TimeoutStopSec')[0]);
    expect(stop).toBe(stopBudgetSeconds(config));
    expect(stop).toBeGreaterThan(7 + 60 + 30);
    // The built-in config: 5 s grace + a 60 s VM delete.
    expect(Number(settings(renderUnit(inputs()).text, 'TimeoutStopSec')[0])).toBeGreaterThan(65);
  });

  it('carries PATH (absolute entries only) and every SYSTEM_MANAGER_*/CORE_SESSION_* variable in effect', () => {
    const env = {
      PATH: '/usr/local/bin:.:bin:/usr/bin',
      SYSTEM_MANAGER_PORT_MAIN_API: '9000',
      CORE_SESSION_REDIS_URL: 'redis://10.0.0.5:6379',
      SYSTEM_MANAGER_CONFIG: '/ignored/because/--config.json',
      UNRELATED: 'x',
    };
    const { text } = renderUnit(inputs({ env }));
    const vars = Object.assign({}, ...settings(text, 'Environment').map(parseEnvironment)) as Record<
      string,
      string
    >;
    expect(vars).toMatchObject({
      PATH: '/usr/local/bin:/usr/bin',
      SYSTEM_MANAGER_PORT_MAIN_API: '9000',
      CORE_SESSION_REDIS_URL: 'redis://10.0.0.5:6379',
      CORE_SESSION_DIR: '/run/system-manager/sessions',
    });
    expect(vars).not.toHaveProperty('UNRELATED');
    expect(vars).not.toHaveProperty('SYSTEM_MANAGER_CONFIG');
    const own = renderUnit(inputs({ env: { CORE_SESSION_DIR: '/var/lib/sm' } })).text;
    expect(settings(own, 'Environment').map(parseEnvironment)).toContainEqual({
      CORE_SESSION_DIR: '/var/lib/sm',
    });
  });

  it('leaves a password out of the world-readable unit and says where to put it', () => {
    const { text, warnings } = renderUnit(
      inputs({ env: { CORE_SESSION_REDIS_URL: 'redis://:s3cret@10.0.0.5:6379' } }),
    );
    expect(text).not.toContain('s3cret');
    expect(warnings.join('\n')).toMatch(
      /CORE_SESSION_REDIS_URL holds a password.*\/etc\/system-manager\/environment/,
    );
    expect(settings(text, 'EnvironmentFile')).toEqual(['-/etc/system-manager/environment']);
  });

  it('refuses an ExecStart inside the npx or pnpm cache, with the install command to use', () => {
    for (const cli of [
      '/root/.npm/_npx/6b2c/node_modules/system-manager/dist/cli.js',
      '/home/u/.cache/pnpm/dlx/abc/node_modules/system-manager/dist/cli.js',
      '/home/u/.local/share/pnpm/store/v3/x/cli.js',
    ]) {
      expect(packageCacheOf(cli)).not.toBeNull();
      let error: unknown;
      try {
        renderUnit(inputs({ cliPath: cli }));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UnitError);
      expect((error as UnitError).message).toMatch(/cache|store/);
      expect((error as UnitError).details.join('\n')).toMatch(/npm install --global system-manager/);
    }
    expect(packageCacheOf('/usr/lib/node_modules/system-manager/dist/cli.js')).toBeNull();
  });

  it('refuses user names systemd would not take', () => {
    expect(() => renderUnit(inputs({ user: 'bad user' }))).toThrow(UnitError);
    expect(() => renderUnit(inputs({ user: '-rf' }))).toThrow(UnitError);
  });
});

describe('`system-manager unit` (the CLI)', () => {
  it.skipIf(!hasAnalyze)(
    '--user writes User=/Group= of that user and the output passes systemd-analyze verify',
    () => {
      const cli = path.resolve(import.meta.dirname, '..', 'cli.ts');
      const out = execFileSync(
        process.execPath,
        ['--conditions=@core/source', '--import', 'tsx', cli, 'unit', '--user', 'root'],
        {
          encoding: 'utf8',
          env: { ...process.env, CORE_SESSION_DIR: path.join(scratch.dir, 'never-created') },
        },
      );
      expect(settings(out, 'User')).toEqual(['root']);
      expect(verify(out)).toEqual({ status: 0, output: '' });
    },
  );

  it('runs as written: ExecStart read back with systemd rules, in WorkingDirectory= with Environment=, gets the config path as one argument', async () => {
    const dir = path.join(scratch.dir, "etc sm %i $USER 'x'");
    mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, 'my conf.json');
    writeFileSync(
      configFile,
      JSON.stringify({ services: [{ name: 'api', command: './api.sh', port: 'main_api' }] }),
    );
    const cli = path.resolve(import.meta.dirname, '..', 'cli.ts');
    const unit = execFileSync(
      process.execPath,
      ['--conditions=@core/source', '--import', 'tsx', cli, 'unit', '--user', 'root', '--config', configFile],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          SYSTEM_MANAGER_PORT_MAIN_API: '9123',
          CORE_SESSION_DIR: path.join(scratch.dir, 'never'),
        },
      },
    );
    const argv = parseExecLine(settings(unit, 'ExecStart')[0] as string);
    expect(argv.slice(-3)).toEqual(['start', '--config', configFile]);
    const env = Object.assign({}, ...settings(unit, 'Environment').map(parseEnvironment)) as Record<
      string,
      string
    >;
    const cwd = (settings(unit, 'WorkingDirectory')[0] as string).replaceAll('%%', '%');
    expect(cwd).toBe(dir);
    // The same argv with `config check` instead of `start`: exit 0 proves the path arrived whole and resolves from cwd.
    const [exe, ...args] = argv;
    const check = spawnSync(
      exe as string,
      args.flatMap((a) => (a === 'start' ? ['config', 'check'] : [a])),
      {
        cwd,
        env: { ...env, HOME: scratch.dir },
        encoding: 'utf8',
      },
    );
    expect(check.stderr).toContain(`${configFile} (--config) is valid`);
    expect(check.status).toBe(0);
    expect(JSON.parse(check.stdout).services[0].command).toBe(path.join(dir, 'api.sh'));
    expect(env['SYSTEM_MANAGER_PORT_MAIN_API']).toBe('9123');
  });

  it('refuses a user that does not exist, and a name that could be read as an option of id', () => {
    const cli = path.resolve(import.meta.dirname, '..', 'cli.ts');
    for (const [user, message] of [
      ['no-such-user-sm', /no such user on this machine/],
      ['-rf', /not a user name/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        ['--conditions=@core/source', '--import', 'tsx', cli, 'unit', `--user=${user}`],
        {
          encoding: 'utf8',
          env: { ...process.env, CORE_SESSION_DIR: path.join(scratch.dir, 'never') },
        },
      );
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
  });
});
