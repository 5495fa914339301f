// A reboot, simulated for real: a terminal registers a VM and is SIGKILLed
// (the power goes), then the machine "boots again" — in a private mount
// namespace the kernel's boot id and /proc/stat's boot time are bind-mounted
// over with those of a new boot, as the next boot would show them. The next
// `sessions cleanup` must clean the VM at once (no 12 h age limit), from the
// default locations of a user (the XDG state directory) and of the boot unit
// (/var/lib/system-manager, a tmpfs in the namespace), and `status` must say
// the same. Sessions an earlier version left in its volatile locations (the
// temp dir, /run) are imported and cleaned too.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { APP_DIR, CLI, FIXTURES, NODE_TS, tagEnv, tempDir } from './helpers.js';

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((file) => existsSync(file)) ?? null;
const NAMESPACE = ['--mount', '--propagation', 'private'];
/** A mount namespace needs CAP_SYS_ADMIN (root, as in CI's container); a stable id needs a machine id. */
const CAN_SIMULATE =
  UNSHARE !== null &&
  spawnSync(UNSHARE, [...NAMESPACE, '/bin/true'], { stdio: 'ignore' }).status === 0 &&
  ['/etc/machine-id', '/var/lib/dbus/machine-id'].some((file) => existsSync(file));
const SKIP = !CAN_SIMULATE && process.env['CI'] !== 'true';
if (SKIP) console.error('reboot tests skipped: they need root (a mount namespace) and /etc/machine-id');

const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;
const node = (args: readonly string[]) => [process.execPath, ...NODE_TS, ...args].map(quote).join(' ');

/**
 * The shell script run in the namespace: each owner registers its VM and is
 * SIGKILLed, then the new boot is mounted over the old one and `status` and
 * `sessions cleanup` run as they would after the reboot.
 */
function script(options: {
  readonly dir: string;
  readonly unitMounts: boolean;
  readonly owners: readonly { readonly vm: string; readonly env: string }[];
  readonly config: string;
}): string {
  const { dir } = options;
  const owners = options.owners.map(
    (owner, i) => `
${owner.env} ${node([path.join(FIXTURES, 'own-vm.ts'), owner.vm, 'zone-a'])} > ${quote(`${dir}/owner-${i}.out`)} 2>&1 &
pid=$!
n=0; until grep -q sessionId ${quote(`${dir}/owner-${i}.out`)}; do n=$((n+1)); [ $n -lt 300 ] || { echo "owner ${i} did not register" >&2; kill -9 $pid; exit 3; }; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null || true`,
  );
  return `set -e
${options.unitMounts ? 'mount -t tmpfs -o mode=0755 tmpfs /var/lib\nmount -t tmpfs -o mode=0755 tmpfs /run\nmkdir -p /run/system-manager' : ''}
${owners.join('\n')}
# The next boot: another boot id, and a boot time after the owners' last sign of life.
echo ${randomUUID()} > ${quote(`${dir}/boot_id`)}
sed "s/^btime .*/btime $(( $(date +%s) + 1 ))/" /proc/stat > ${quote(`${dir}/stat`)}
mount --bind ${quote(`${dir}/boot_id`)} /proc/sys/kernel/random/boot_id
mount --bind ${quote(`${dir}/stat`)} /proc/stat
${node([CLI, 'status', '--json'])} > ${quote(`${dir}/status.json`)}
${node([CLI, 'sessions', 'cleanup', '--json', '--config', options.config])} > ${quote(`${dir}/cleanup.json`)}
`;
}

/** Runs the script in a new mount namespace; resolves with its exit code and stderr. */
function inNamespace(text: string, env: Record<string, string | undefined>) {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...tagEnv() };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  const child = spawn(UNSHARE as string, [...NAMESPACE, '/bin/sh', '-c', text], {
    cwd: APP_DIR,
    env: merged,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  onTestFinished(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stderr })),
  );
}

function cleanupConfig(dir: string): { config: string; calls: string } {
  const calls = path.join(dir, 'cleanup-calls.jsonl');
  writeFileSync(calls, '');
  const config = path.join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      services: [],
      cleanup: {
        vm: {
          command: [process.execPath, path.join(FIXTURES, 'record-cleanup.mjs'), '{id}', '--zone', '{zone}'],
        },
      },
    }),
  );
  return { config, calls };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

interface StatusSession {
  readonly sessionId: string;
  readonly liveness: string;
  readonly reason: string;
  readonly vms: readonly unknown[];
}

describe.skipIf(SKIP)('after a reboot (another boot id, same machine)', { timeout: 90_000 }, () => {
  it("a user's default location: the previous boot's VM is dead at once and cleaned; a session left in the old temp-dir location is imported and cleaned", async () => {
    const t = tempDir('sm-reboot-');
    const { config, calls } = cleanupConfig(t.dir);
    const state = path.join(t.dir, 'state');
    const tmp = path.join(t.dir, 'tmp');
    mkdirSync(tmp);
    const { code, stderr } = await inNamespace(
      script({
        dir: t.dir,
        unitMounts: false,
        config,
        owners: [
          // The default: $XDG_STATE_HOME/system-manager.
          { vm: 'vm-before-reboot', env: '' },
          // Where an earlier version kept it: <tmp>/core-session-<uid> (gone at a real reboot; here it stays).
          {
            vm: 'vm-in-old-tmp',
            env: `CORE_SESSION_DIR=${quote(`${tmp}/core-session-${process.getuid?.()}`)}`,
          },
        ],
      }),
      { XDG_STATE_HOME: state, TMPDIR: tmp, CORE_SESSION_DIR: undefined, RECORD_FILE: calls },
    );
    expect(code, stderr).toBe(0);

    const status = readJson(path.join(t.dir, 'status.json'));
    const sessions = status['sessions'] as StatusSession[];
    expect(sessions).toHaveLength(2);
    for (const s of sessions) expect(s.liveness, s.reason).toBe('dead');
    expect(sessions.map((s) => s.reason)).toContainEqual(
      expect.stringMatching(/^from an earlier boot of this machine/),
    );

    const cleanup = readJson(path.join(t.dir, 'cleanup.json'));
    expect(cleanup['removed']).toBe(2);
    const cleaned = readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)[0])
      .sort();
    expect(cleaned).toEqual(['vm-before-reboot', 'vm-in-old-tmp']);
  });

  it("the boot unit's location (/var/lib/system-manager): the previous boot's VM is cleaned; one left in /run/system-manager/sessions is imported and cleaned", async () => {
    const t = tempDir('sm-reboot-');
    const { config, calls } = cleanupConfig(t.dir);
    const { code, stderr } = await inNamespace(
      script({
        dir: t.dir,
        unitMounts: true,
        config,
        owners: [
          { vm: 'vm-unit-before-reboot', env: 'CORE_SESSION_DIR=/var/lib/system-manager' },
          { vm: 'vm-unit-in-run', env: 'CORE_SESSION_DIR=/run/system-manager/sessions' },
        ],
      }),
      { CORE_SESSION_DIR: '/var/lib/system-manager', RECORD_FILE: calls },
    );
    expect(code, stderr).toBe(0);
    const sessions = readJson(path.join(t.dir, 'status.json'))['sessions'] as StatusSession[];
    expect(sessions.map((s) => s.liveness)).toEqual(['dead', 'dead']);
    expect(readJson(path.join(t.dir, 'cleanup.json'))['removed']).toBe(2);
    const cleaned = readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)[0])
      .sort();
    expect(cleaned).toEqual(['vm-unit-before-reboot', 'vm-unit-in-run']);
  });
});
