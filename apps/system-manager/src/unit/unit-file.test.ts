import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { loadConfig, parseConfig } from '../config.js';
import { EX_CONFIG } from '../errors.js';
import { DEFAULT_HARDENING, HARDENING, type HardeningKey, parseHardening } from './hardening.js';
import { parseEnvironment, parseExecLine, parsePathList } from './systemd-syntax.js';
import {
  packageCacheOf,
  renderUnit,
  stopBudgetSeconds,
  UNIT_PATH,
  UnitError,
  type UnitInputs,
} from './unit-file.js';

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
        allowTemporaryPaths: true,
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
    const { text } = renderUnit(inputs({ nodePath: node, allowTemporaryPaths: true }));
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

  it("carries every SYSTEM_MANAGER_*/CORE_SESSION_* variable in effect, and a fixed PATH instead of the caller's", () => {
    const env = {
      PATH: '/home/dev/bin:.:bin:/usr/bin',
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
      PATH: `${UNIT_PATH}${UNIT_PATH.split(':').includes(path.dirname(process.execPath)) ? '' : `:${path.dirname(process.execPath)}`}`,
      SYSTEM_MANAGER_PORT_MAIN_API: '9000',
      CORE_SESSION_REDIS_URL: 'redis://10.0.0.5:6379',
      CORE_SESSION_DIR: '/var/lib/system-manager',
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

const HARDENING_KEYS = Object.keys(HARDENING) as HardeningKey[];

describe('renderUnit: hardening', () => {
  it.skipIf(!hasAnalyze)(
    'writes every directive at its protective value, with its reason, and passes verify',
    () => {
      const { text } = renderUnit(inputs());
      for (const key of HARDENING_KEYS) {
        expect(settings(text, key), key).toEqual([HARDENING[key].protective]);
        // The reason is the comment line right above the directive.
        const lines = text.split('\n');
        expect(lines[lines.indexOf(`${key}=${HARDENING[key].protective}`) - 1]).toBe(
          `# ${HARDENING[key].why}`,
        );
      }
      expect(settings(text, 'ProtectHome')).toEqual(['read-only']);
      expect(settings(text, 'LimitNOFILE')).toEqual(['65536']);
      expect(settings(text, 'StateDirectory')).toEqual(['system-manager']);
      expect(settings(text, 'ReadWritePaths')).toEqual(['/var/lib/system-manager']);
      // The session registry is in the state directory (persistent, writable); the runtime one stays
      // writable so that a start can import the sessions an earlier version kept there.
      expect(settings(text, 'StateDirectoryMode')).toEqual(['0700']);
      expect(settings(text, 'RuntimeDirectory')).toEqual(['system-manager']);
      expect(verify(text)).toEqual({ status: 0, output: '' });
    },
  );

  it.skipIf(!hasAnalyze)('systemd-analyze verify catches a bad hardening value (the check is real)', () => {
    const broken = renderUnit(inputs()).text.replace(/^ProtectSystem=.*$/m, 'ProtectSystem=bogus');
    expect(verify(broken).output).toMatch(/Failed to parse protect system value, ignoring: bogus/);
  });

  it.skipIf(!hasAnalyze)(
    '--set values are written as chosen, marked, and the unit still passes verify',
    () => {
      const dataDir = `/srv/my data/it's "q"/100%`;
      const hardening = parseHardening({
        set: [
          'NoNewPrivileges=no',
          'ProtectSystem=full',
          'ProtectHome=yes',
          'PrivateTmp=no',
          'RestrictSUIDSGID=no',
          'LockPersonality=no',
          'LimitNOFILE=4096:524288',
          `ReadWritePaths=${dataDir}`,
          'ReadWritePaths=/srv/logs',
        ],
      });
      const { text } = renderUnit(inputs({ hardening }));
      expect(settings(text, 'NoNewPrivileges')).toEqual(['no']);
      expect(settings(text, 'ProtectSystem')).toEqual(['full']);
      expect(settings(text, 'ProtectHome')).toEqual(['yes']);
      expect(settings(text, 'LimitNOFILE')).toEqual(['4096:524288']);
      expect(text).toContain('# Chosen with --set (the default is 65536).\nLimitNOFILE=4096:524288');
      expect(settings(text, 'ReadWritePaths').flatMap(parsePathList)).toEqual([
        '/var/lib/system-manager',
        dataDir,
        '/srv/logs',
      ]);
      expect(verify(text)).toEqual({ status: 0, output: '' });
    },
  );

  it.skipIf(!hasAnalyze)('--no-hardening leaves every directive out but those given with --set', () => {
    const bare = renderUnit(inputs({ hardening: parseHardening({ noHardening: true }) })).text;
    for (const key of [...HARDENING_KEYS, 'ReadWritePaths']) expect(settings(bare, key), key).toEqual([]);
    expect(bare).toMatch(/^# Sandboxing left out \(--no-hardening\)/m);
    expect(verify(bare)).toEqual({ status: 0, output: '' });
    const one = renderUnit(
      inputs({ hardening: parseHardening({ noHardening: true, set: ['LimitNOFILE=8192'] }) }),
    ).text;
    expect(HARDENING_KEYS.filter((key) => settings(one, key).length > 0)).toEqual(['LimitNOFILE']);
    // StateDirectory= is where data lives, not a sandboxing choice: it stays.
    expect(settings(one, 'StateDirectory')).toEqual(['system-manager']);
  });

  it.skipIf(!hasAnalyze)(
    'ProtectHome=no, said in a comment, when a service lives under /home, /root or /run/user',
    () => {
      for (const [service, where] of [
        [{ cwd: '/home/alice/app' }, 'cwd /home/alice/app'],
        [{ command: '/root/bin/api' }, 'command /root/bin/api'],
      ] as const) {
        const config = parseConfig({
          services: [{ name: 'api', command: 'api', port: 'main_api', ...service }],
        });
        const { text } = renderUnit(inputs({ config }));
        expect(settings(text, 'ProtectHome')).toEqual(['no']);
        expect(text).toContain(
          `# ProtectHome=no: services live under a home directory (service "api" ${where})`,
        );
        expect(verify(text)).toEqual({ status: 0, output: '' });
      }
      // An explicit choice wins over the automatic one.
      const config = parseConfig({
        services: [{ name: 'api', command: 'api', port: 'main_api', cwd: '/home/a' }],
      });
      const chosen = parseHardening({ set: ['ProtectHome=read-only'] });
      expect(settings(renderUnit(inputs({ config, hardening: chosen })).text, 'ProtectHome')).toEqual([
        'read-only',
      ]);
    },
  );

  it('refuses ProtectHome=yes or tmpfs when the unit runs or reads something under a home directory', () => {
    for (const value of ['yes', 'tmpfs']) {
      const hardening = parseHardening({ set: [`ProtectHome=${value}`] });
      expect(() => renderUnit(inputs({ cliPath: '/home/ops/sm/dist/cli.js', hardening }))).toThrow(
        /ProtectHome=(yes|tmpfs) hides the home directories, but the unit needs ExecStart CLI \/home\/ops/,
      );
    }
  });

  it("names the services' working directories that stay read-only, and makes a custom session dir writable", () => {
    const config = parseConfig({
      services: [{ name: 'api', command: 'api', port: 'main_api', cwd: '/srv/api' }],
    });
    const { text } = renderUnit(inputs({ config, env: { CORE_SESSION_DIR: '/srv/sessions' } }));
    expect(text).toMatch(
      /^# The services' working directories stay read-only: \/srv\/api; .*--set ReadWritePaths=<dir>$/m,
    );
    expect(settings(text, 'ReadWritePaths')).toEqual(['/var/lib/system-manager', '/srv/sessions']);
    expect(text).toMatch(
      /^# CORE_SESSION_DIR, outside .*: writable here, and it must exist before the unit starts\.$/m,
    );
    // Under the state directory, nothing needs adding.
    const inside = renderUnit(inputs({ env: { CORE_SESSION_DIR: '/var/lib/system-manager/sessions' } })).text;
    expect(settings(inside, 'ReadWritePaths')).toEqual(['/var/lib/system-manager']);
    expect(() => renderUnit(inputs({ env: { CORE_SESSION_DIR: 'sessions' } }))).toThrow(
      /must be an absolute path/,
    );
  });

  it('a config path cannot add lines to the unit through a comment', () => {
    const config = parseConfig({
      services: [{ name: 'api', command: 'api', port: 'main_api', cwd: '/srv/a\nExecStartPre=/bin/sh' }],
    });
    const { text } = renderUnit(inputs({ config }));
    expect(settings(text, 'ExecStartPre')).toEqual([]);
    expect(text).toContain('/srv/a\\x0aExecStartPre=/bin/sh');
  });
});

describe('renderUnit: PATH, root, temp directories', () => {
  it("PATH is the system directories and then Node's, whatever PATH the caller has", () => {
    const path1 = (text: string) =>
      (Object.assign({}, ...settings(text, 'Environment').map(parseEnvironment)) as Record<string, string>)[
        'PATH'
      ];
    const env = { PATH: '/home/dev/.local/bin:.:/opt/evil' };
    expect(path1(renderUnit(inputs({ env, nodePath: '/usr/bin/node' })).text)).toBe(UNIT_PATH);
    expect(path1(renderUnit(inputs({ env, nodePath: '/opt/node-v20/bin/node' })).text)).toBe(
      `${UNIT_PATH}:/opt/node-v20/bin`,
    );
    expect(() => renderUnit(inputs({ nodePath: '/opt/a:b/node' }))).toThrow(/PATH cannot carry/);
  });

  it('warns (not refuses) when the unit runs as root, saying how to pick a user', () => {
    expect(renderUnit(inputs({ user: 'root' })).warnings.join('\n')).toMatch(
      /runs the manager and every service as root \(User=root\).*useradd --system.*unit --user/,
    );
    expect(renderUnit(inputs({ user: 'app', group: 'app' })).warnings).toEqual([]);
  });

  it('refuses the config, services, ExecStart, the session dir and ReadWritePaths under /tmp, /var/tmp or $TMPDIR, naming each', () => {
    const cases: [Partial<UnitInputs>, RegExp][] = [
      [{ configFile: '/tmp/sm/config.json' }, /the config: \/tmp\/sm\/config\.json/],
      [{ configFile: '/var/tmp/sm/config.json' }, /the config: \/var\/tmp\/sm\/config\.json/],
      [{ cliPath: '/tmp/x/dist/cli.js' }, /ExecStart CLI: \/tmp\/x\/dist\/cli\.js/],
      [{ env: { CORE_SESSION_DIR: '/tmp/core-session-0' } }, /CORE_SESSION_DIR: \/tmp\/core-session-0/],
      [
        { config: parseConfig({ services: [{ name: 'api', command: '/var/tmp/api', port: 'main_api' }] }) },
        /service "api" command: \/var\/tmp\/api/,
      ],
      [{ hardening: parseHardening({ set: ['ReadWritePaths=/tmp/out'] }) }, /ReadWritePaths: \/tmp\/out/],
      [
        { configFile: '/scratch/me/config.json', temporaryDirectories: ['/scratch'] },
        /the config: \/scratch\/me\/config\.json/,
      ],
    ];
    for (const [overrides, named] of cases) {
      let error: unknown;
      try {
        renderUnit(inputs(overrides));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UnitError);
      const unitError = error as UnitError;
      expect(unitError.message).toMatch(/under a temp directory .* emptied at reboot/);
      expect(unitError.details.join('\n')).toMatch(named);
      expect(unitError.details.join('\n')).toMatch(/--allow-temp-paths/);
    }
    // A path merely starting with the same letters is not inside.
    expect(() => renderUnit(inputs({ configFile: '/tmpfiles/config.json' }))).not.toThrow();
  });

  it('a symlink into a temp directory counts as the temp directory', () => {
    const temp = path.join(scratch.dir, 'volatile');
    const lasting = path.join(scratch.dir, 'lasting');
    mkdirSync(path.join(temp, 'real'), { recursive: true });
    mkdirSync(lasting);
    symlinkSync(path.join(temp, 'real'), path.join(lasting, 'link'));
    expect(() =>
      renderUnit(
        inputs({ configFile: path.join(lasting, 'link', 'config.json'), temporaryDirectories: [temp] }),
      ),
    ).toThrow(UnitError);
    expect(() =>
      renderUnit(inputs({ configFile: path.join(lasting, 'config.json'), temporaryDirectories: [temp] })),
    ).not.toThrow();
  });

  it('--allow-temp-paths writes them, with a warning naming them', () => {
    const { text, warnings } = renderUnit(
      inputs({ configFile: '/tmp/demo/config.json', allowTemporaryPaths: true }),
    );
    expect(settings(text, 'WorkingDirectory')).toEqual(['/tmp/demo']);
    expect(warnings.join('\n')).toMatch(
      /--allow-temp-paths: the config \/tmp\/demo\/config\.json under a temp directory/,
    );
    expect(DEFAULT_HARDENING.enabled).toBe(true);
  });
});

describe('`system-manager unit` (the CLI)', () => {
  it.skipIf(!hasAnalyze)(
    '--user writes User=/Group= of that user and the output passes systemd-analyze verify',
    () => {
      const cli = path.resolve(import.meta.dirname, '..', 'cli.ts');
      const out = execFileSync(
        process.execPath,
        ['--conditions=@core/source', '--import', 'tsx', cli, 'unit', '--user', 'root', '--allow-temp-paths'],
        {
          encoding: 'utf8',
          // The warning about User=root goes to stderr: kept out of the test output.
          stdio: ['ignore', 'pipe', 'pipe'],
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
      [
        '--conditions=@core/source',
        '--import',
        'tsx',
        cli,
        'unit',
        '--user',
        'root',
        '--config',
        configFile,
        '--allow-temp-paths',
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
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
