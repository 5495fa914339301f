// Where a manager's control socket lives, and the checks that make the place
// trustworthy: a directory of this user's (or root's), not writable by
// others, never a symlink; the socket path itself must not exist yet — a
// session id is new at every start, so anything already there was planted.
import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SystemManagerError } from '../errors.js';

/** Environment variable that names the control sockets' directory outright. */
export const RUNTIME_DIR_ENV = 'SYSTEM_MANAGER_RUNTIME_DIR';

/** The longest path a Unix socket address holds (sun_path, Linux: 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** Session ids as sockets are named: the manager's own are UUIDs; `--session` is checked against this. */
const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The directory of control sockets: `$SYSTEM_MANAGER_RUNTIME_DIR`, else the
 * unit's `$RUNTIME_DIRECTORY` (`/run/system-manager`), else
 * `$XDG_RUNTIME_DIR/system-manager`, else `/run/system-manager` for root and
 * `<tmpdir>/system-manager-<uid>` for anyone else.
 */
export function controlSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[RUNTIME_DIR_ENV];
  if (explicit) return path.resolve(explicit);
  const unit = env['RUNTIME_DIRECTORY']?.split(':')[0];
  if (unit) return path.resolve(unit);
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'system-manager');
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/system-manager' : path.join(os.tmpdir(), `system-manager-${uid}`);
}

/** The socket of session `sessionId` in `dir`. */
export function socketPathOf(dir: string, sessionId: string): string {
  if (!SESSION_NAME.test(sessionId))
    throw new SystemManagerError('E_USAGE', `not a session id: ${JSON.stringify(sessionId)}`);
  const socket = path.join(dir, `${sessionId}.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new SystemManagerError(
      'E_CONTROL_SOCKET',
      `the control socket path ${socket} is longer than a Unix socket address holds (${MAX_SOCKET_PATH} bytes): set ${RUNTIME_DIR_ENV} to a shorter directory`,
    );
  return socket;
}

/**
 * Makes sure `dir` is a place for our socket: created (0700) if missing; a
 * real directory (not a symlink), owned by this user or root, not writable by
 * group or others. Then checks that `socket` does not exist. With `group`
 * (the gid of `control.socketGroup`) the directory is made 0750 of that
 * group: its members need to search it (x) to reach the socket, nobody else does.
 * @throws SystemManagerError E_CONTROL_SOCKET naming what is wrong.
 */
export function prepareSocketPlace(dir: string, socket: string, group?: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode: group === undefined ? 0o700 : 0o750 });
  } catch (error) {
    throw refused(`cannot create the control socket directory ${dir}: ${(error as Error).message}`);
  }
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) throw refused(`${dir} is a symlink: refusing to put the control socket there`);
  if (!stat.isDirectory()) throw refused(`${dir} is not a directory`);
  const uid = process.getuid?.() ?? 0;
  if (stat.uid !== uid && stat.uid !== 0)
    throw refused(`${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid}) or root`);
  if ((stat.mode & 0o022) !== 0)
    throw refused(
      `${dir} is writable by ${stat.mode & 0o002 ? 'others' : 'its group'} (mode ${(stat.mode & 0o777).toString(8)}): anyone could replace the socket`,
    );
  if (group !== undefined) shareWithGroup(dir, stat, group, uid);
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(socket);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw refused(`cannot check ${socket}: ${(error as Error).message}`);
  }
  if (existing)
    throw refused(
      `${socket} exists already (${existing.isSymbolicLink() ? 'a symlink' : existing.isSocket() ? 'a socket' : 'a file'}) and was not created by this manager: refusing to start on it`,
    );
}

/** Gives `group` search access to `dir` (0750 of that group) when it is ours; checks it has it otherwise. */
function shareWithGroup(dir: string, stat: Stats, group: number, uid: number): void {
  if (stat.uid === uid) {
    try {
      // lchown: the directory was checked above to be no symlink; should one be swapped in, the link is what changes.
      if (stat.gid !== group) lchownSync(dir, -1, group);
      if ((stat.mode & 0o777) !== 0o750) chmodSync(dir, 0o750);
    } catch (error) {
      throw refused(
        `cannot give group ${group} access to ${dir}: ${(error as Error).message} (the manager's user must be a member of the group, or root)`,
      );
    }
    return;
  }
  if ((stat.mode & 0o001) === 0 && !(stat.gid === group && (stat.mode & 0o010) !== 0))
    throw refused(
      `${dir} (uid ${stat.uid}, gid ${stat.gid}, mode ${(stat.mode & 0o777).toString(8)}) cannot be searched by group ${group}, and is not this user's to change: the socket group could not reach the socket`,
    );
}

/** The sockets in `dir` (names ending in `.sock` that are sockets), as session id → path. */
export function listSockets(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return found;
    if (code === 'EACCES')
      throw new SystemManagerError('E_CONTROL_DENIED', `cannot read ${dir}: permission denied`);
    throw error;
  }
  for (const name of names.sort()) {
    if (!name.endsWith('.sock')) continue;
    const session = name.slice(0, -'.sock'.length);
    const file = path.join(dir, name);
    try {
      if (SESSION_NAME.test(session) && lstatSync(file).isSocket()) found.set(session, file);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function refused(message: string): SystemManagerError {
  return new SystemManagerError('E_CONTROL_SOCKET', message);
}
