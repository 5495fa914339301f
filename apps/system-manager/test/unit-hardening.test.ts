// `system-manager unit` end to end: the flags that change the hardening, the
// refusal of temp paths, the warning about root, each as a real CLI run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvironment, parsePathList } from '../src/unit/systemd-syntax.js';
import { UNIT_PATH } from '../src/unit/unit-file.js';
import { runToEnd, tempDir } from './helpers.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function settings(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

/** `systemd-analyze verify` of a unit text, in a directory removed when the test ends. */
function verify(text: string) {
  const { dir } = tempDir('sm-unit-verify-');
  const file = path.join(dir, 'system-manager.service');
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// The caller's session directory must not leak into these units: empty means unset.
const ENV = { CORE_SESSION_DIR: '', PATH: `/home/dev/bin:.:${process.env['PATH'] ?? ''}` };

describe('`system-manager unit` hardening flags', { timeout: 30_000 }, () => {
  it.skipIf(!hasAnalyze)(
    '--set changes directives and adds ReadWritePaths=, the output passes verify, and the root warning goes to stderr only',
    async () => {
      const { code, stdout, stderr } = await runToEnd(
        [
          'unit',
          '--user',
          'root',
          '--set',
          'ProtectHome=no',
          '--set',
          'limitnofile=4096',
          '--set',
          'ReadWritePaths=/srv/app data',
        ],
        ENV,
      );
      expect(code, stderr).toBe(0);
      expect(settings(stdout, 'ProtectHome')).toEqual(['no']);
      expect(settings(stdout, 'LimitNOFILE')).toEqual(['4096']);
      expect(settings(stdout, 'ProtectSystem')).toEqual(['strict']);
      expect(settings(stdout, 'NoNewPrivileges')).toEqual(['yes']);
      expect(settings(stdout, 'ReadWritePaths').flatMap(parsePathList)).toEqual([
        '/var/lib/system-manager',
        '/srv/app data',
      ]);
      const env = Object.assign({}, ...settings(stdout, 'Environment').map(parseEnvironment)) as Record<
        string,
        string
      >;
      expect(env['PATH']?.startsWith(UNIT_PATH)).toBe(true);
      expect(env['PATH']).not.toContain('/home/dev/bin');
      expect(env['CORE_SESSION_DIR']).toBe('/var/lib/system-manager');
      expect(stderr).toMatch(/as root \(User=root\).*--user/);
      expect(stdout).not.toContain('useradd');
      expect(verify(stdout)).toEqual({ status: 0, output: '' });
    },
  );

  it.skipIf(!hasAnalyze)(
    '--no-hardening prints a unit without the directives that still passes verify',
    async () => {
      const { code, stdout, stderr } = await runToEnd(['unit', '--user', 'root', '--no-hardening'], ENV);
      expect(code, stderr).toBe(0);
      for (const key of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'LimitNOFILE'])
        expect(settings(stdout, key), key).toEqual([]);
      expect(verify(stdout)).toEqual({ status: 0, output: '' });
    },
  );

  it('a bad --set exits 1 naming it, prints no unit; --set on another command is a usage error', async () => {
    const bad = await runToEnd(['unit', '--user', 'root', '--set', 'ExecStartPre=/bin/sh'], ENV);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/--set "ExecStartPre=\/bin\/sh": unit changes only/);
    const misplaced = await runToEnd(['status', '--set', 'PrivateTmp=no'], ENV);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain("option '--set' does not apply to 'status'");
  });

  it('refuses a config under the temp dir (exit 1, naming it and --allow-temp-paths); the flag lets it through with a warning', async () => {
    const { dir } = tempDir('sm-unit-config-');
    mkdirSync(path.join(dir, 'etc'));
    const configFile = path.join(dir, 'etc', 'config.json');
    writeFileSync(configFile, '{}');
    const refused = await runToEnd(['unit', '--user', 'root', '--config', configFile], ENV);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`the config: ${configFile}`);
    expect(refused.stderr).toMatch(/under a temp directory.*emptied at reboot/);
    expect(refused.stderr).toContain('--allow-temp-paths');

    const allowed = await runToEnd(
      ['unit', '--user', 'root', '--config', configFile, '--allow-temp-paths'],
      ENV,
    );
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(settings(allowed.stdout, 'WorkingDirectory')).toEqual([path.dirname(configFile)]);
    expect(allowed.stderr).toContain(`--allow-temp-paths: the config ${configFile} under a temp directory`);
  });
});
