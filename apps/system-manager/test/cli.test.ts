import { describe, expect, it } from 'vitest';
import { runToEnd } from './helpers.js';

describe('system-manager CLI usage', () => {
  it('--help prints usage to stdout, nothing to stderr, exit 0', async () => {
    const { code, stdout, stderr } = await runToEnd(['--help'], {});
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: system-manager <command>/);
    expect(stdout).toContain('sessions cleanup');
    expect(stderr).toBe('');
  });

  it('--version prints the package version', async () => {
    const { code, stdout, stderr } = await runToEnd(['--version'], {});
    const { version } = (await import('../package.json', { with: { type: 'json' } })).default;
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
    expect(stderr).toBe('');
  });

  it('an unknown flag exits 2 and names it', async () => {
    const { code, stdout, stderr } = await runToEnd(['start', '--frobnicate'], {});
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("'--frobnicate'");
  });

  it('an unknown command exits 2 and names it', async () => {
    const { code, stderr } = await runToEnd(['launch'], {});
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'launch'");
  });

  it('unit prints a systemd unit that runs start', async () => {
    const { code, stdout } = await runToEnd(['unit'], {});
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\[Unit\]/m);
    expect(stdout).toMatch(/^ExecStart="\S+node" .*"\S+cli\.(js|ts)" "start"$/m);
    expect(stdout).toContain('KillSignal=SIGTERM');
  });
});
