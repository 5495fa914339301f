// The group that may use the control socket besides its owner
// (`control.socketGroup`): a group name or a numeric gid. Names are looked
// up in /etc/group first and then through NSS (`getent group`, for LDAP or
// sssd groups), so a name the machine does not know is a config error.
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/** What `control.socketGroup` accepts as a name (as useradd/groupadd do). */
export const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/** The gid of `group` (a name or a gid), or null when no such group exists. */
export function groupId(
  group: string | number,
  lookUp: (name: string) => string | null = systemGroupEntry,
): number | null {
  if (typeof group === 'number') return group;
  const entry = lookUp(group);
  if (entry === null) return null;
  // name:password:gid:members
  const [name, , gid] = entry.split(':');
  return name === group && gid !== undefined && /^\d+$/.test(gid) ? Number(gid) : null;
}

/** The group(5) line of `name`: /etc/group, else `getent group`; null when neither knows it. */
function systemGroupEntry(name: string): string | null {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (line !== undefined) return line;
  } catch {
    // No /etc/group: NSS may still know it.
  }
  try {
    return execFileSync('getent', ['group', '--', name], {
      encoding: 'utf8',
      timeout: 2_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).split('\n')[0] as string;
  } catch {
    // Not found (exit 2), or no getent.
    return null;
  }
}

/**
 * The first directory from `dir` up to / that members of group `gid` cannot
 * search (no x bit for them), or null when they reach `dir` — judged by the
 * mode bits alone (an ACL may let more in).
 */
export function unreachableFor(gid: number, dir: string): string | null {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      const stat = lstatSync(at);
      const searchable = (stat.mode & 0o001) !== 0 || (stat.gid === gid && (stat.mode & 0o010) !== 0);
      if (!searchable) return at;
    } catch {
      return at;
    }
    if (at === path.dirname(at)) return null;
  }
}

/**
 * The gid of `control.socketGroup`, undefined when none is configured.
 * @throws ConfigError E_CONFIG_INVALID (exit 78) when the group is unknown here.
 */
export function configuredSocketGroup(socketGroup: string | number | undefined): number | undefined {
  if (socketGroup === undefined) return undefined;
  const gid = groupId(socketGroup);
  if (gid === null) throw new ConfigError('E_CONFIG_INVALID', unknownGroup(socketGroup));
  return gid;
}

/** The config error for a `control.socketGroup` this machine does not know. */
export function unknownGroup(group: string | number): string {
  return `control.socketGroup: no group named ${JSON.stringify(group)} on this machine (looked up in /etc/group and with getent)`;
}
