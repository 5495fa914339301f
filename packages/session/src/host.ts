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

/** Digest of the identity fields: what records store as `hostId`. */
export function hostIdOf(parts: Omit<HostIdentity, 'id'>): string {
  return createHash('sha256')
    .update([parts.hostname, parts.machineId ?? '', parts.bootId ?? '', parts.pidNamespace ?? ''].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

let cached: HostIdentity | undefined;

/**
 * This process's host identity: hostname + `/etc/machine-id` (when present)
 * + boot id + pid-namespace inode. Read once per thread; the hostname is read
 * fresh only on the first call.
 */
export function readHostIdentity(): HostIdentity {
  if (cached === undefined) {
    const parts = {
      hostname: osHostname(),
      machineId: readTrimmed('/etc/machine-id') ?? readTrimmed('/var/lib/dbus/machine-id'),
      bootId: readTrimmed('/proc/sys/kernel/random/boot_id'),
      pidNamespace: readPidNamespace(),
    };
    cached = { ...parts, id: hostIdOf(parts) };
  }
  return cached;
}
