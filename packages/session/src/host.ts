// Host identity: which machine *and* pid namespace a pid belongs to. Two
// containers may share a hostname (and a bind-mounted session directory) while
// their pids mean different processes; a pid can only be checked by a
// process with the same identity.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { HostIdentity } from './contract.js';

function readTrimmed(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

function readPidNamespace(): string | null {
  try {
    // stat follows the magic link to the namespace inode, unique per pid namespace.
    return String(statSync('/proc/self/ns/pid').ino);
  } catch {
    return null;
  }
}

// Seconds since the epoch at which this boot began, from the kernel.
function readBootTime(): number | null {
  const match = /^btime (\d+)$/m.exec(readTrimmed('/proc/stat') ?? '');
  return match ? Number(match[1]) * 1000 : null;
}

function digest(fields: readonly string[]): string {
  return createHash('sha256').update(fields.join('\0')).digest('hex').slice(0, 32);
}

/** Digest of the identity fields: what records store as `hostId`. */
export function hostIdOf(
  parts: Pick<HostIdentity, 'hostname' | 'machineId' | 'bootId' | 'pidNamespace'>,
): string {
  return digest([parts.hostname, parts.machineId ?? '', parts.bootId ?? '', parts.pidNamespace ?? '']);
}

/**
 * Digest of the identity without its boot id: what records store as
 * `stableHostId`. Null without a machine id (nothing tells two machines
 * apart then) or a boot id (nothing tells two boots apart). The machine id
 * itself never leaves this process: it is confidential (machine-id(5)).
 */
export function stableHostIdOf(
  parts: Pick<HostIdentity, 'hostname' | 'machineId' | 'bootId' | 'pidNamespace'>,
): string | null {
  if (parts.machineId === null || parts.bootId === null) return null;
  return digest(['stable-host', parts.hostname, parts.machineId, parts.pidNamespace ?? '']);
}

let cached: HostIdentity | undefined;

/**
 * This process's host identity: hostname + `/etc/machine-id` (when present)
 * + boot id + pid-namespace inode, and when this boot began. Read once per
 * thread; the hostname is read fresh only on the first call.
 */
export function readHostIdentity(): HostIdentity {
  if (cached === undefined) {
    const parts = {
      hostname: osHostname(),
      machineId: readTrimmed('/etc/machine-id') ?? readTrimmed('/var/lib/dbus/machine-id'),
      bootId: readTrimmed('/proc/sys/kernel/random/boot_id'),
      pidNamespace: readPidNamespace(),
    };
    cached = { ...parts, id: hostIdOf(parts), stableId: stableHostIdOf(parts), bootedAt: readBootTime() };
  }
  return cached;
}
