// The `doctor` check of the control sockets: every `<session>.sock` in the
// runtime directory with whether a manager answers on it, its mode and owner.
// A socket nobody answers on is stale (left by a manager that was killed);
// one others may open, or open to a group that is not `control.socketGroup`,
// has the wrong mode. Read-only: it pings, it removes nothing.
import { lstatSync, type Stats } from 'node:fs';
import { send } from '../control-socket/client.js';
import { controlSocketDir, listSockets } from '../control-socket/location.js';
import { groupId } from '../control-socket/socket-group.js';
import { SystemManagerError } from '../errors.js';
import { bad, type CheckResult, ok } from './doctor-checks.js';
import type { SessionListing } from './sessions-source.js';

/** How long doctor waits for a manager's answer on its socket. */
const PING_TIMEOUT_MS = 1_500;

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** One result for the directory, then one per socket found in it. */
export async function checkControlSockets(
  socketGroup: string | number | undefined,
  listings: readonly SessionListing[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CheckResult[]> {
  const dir = controlSocketDir(env);
  const uid = process.getuid?.() ?? 0;
  let dirStat: Stats;
  try {
    dirStat = lstatSync(dir);
  } catch {
    return [ok('control sockets', `none: ${dir} does not exist yet (a manager creates it at start)`)];
  }
  if (dirStat.isSymbolicLink() || !dirStat.isDirectory() || (dirStat.mode & 0o022) !== 0)
    return [
      bad(
        'control sockets',
        'fail',
        `${dir} is ${dirStat.isSymbolicLink() ? 'a symbolic link' : !dirStat.isDirectory() ? 'not a directory' : `writable by others (mode ${octal(dirStat.mode)})`}: a manager refuses to put its socket there`,
        `remove it or chmod go-w ${dir}, or set SYSTEM_MANAGER_RUNTIME_DIR to a private directory`,
      ),
    ];
  let sockets: Map<string, string>;
  try {
    sockets = listSockets(dir);
  } catch (error) {
    return [
      bad(
        'control sockets',
        'warn',
        (error as Error).message,
        `run doctor as the manager's user (uid ${dirStat.uid}) to see its sockets`,
      ),
    ];
  }
  if (sockets.size === 0) return [ok('control sockets', `none in ${dir}`)];
  const group = socketGroup === undefined ? undefined : (groupId(socketGroup) ?? undefined);
  return Promise.all(
    [...sockets].map(([session, socket]) => checkSocket(session, socket, uid, group, listings)),
  );
}

async function checkSocket(
  session: string,
  socket: string,
  uid: number,
  group: number | undefined,
  listings: readonly SessionListing[],
): Promise<CheckResult> {
  const name = `control socket ${session}`;
  let stat: Stats;
  try {
    stat = lstatSync(socket);
  } catch {
    return ok(name, `${socket} went away while doctor looked`);
  }
  const owner = `mode ${octal(stat.mode)}, uid ${stat.uid}${stat.uid === uid ? ' (you)' : ''}, gid ${stat.gid}`;
  const listed = listings.find((l) => l.record.sessionId === session);
  const registry = listed
    ? `session ${listed.liveness} in the registry (pid ${listed.record.pid})`
    : 'session not in this registry';
  let answer: string;
  try {
    const { pid } = (await send(socket, { command: 'ping' }, PING_TIMEOUT_MS)) as { pid?: unknown };
    answer = `manager pid ${typeof pid === 'number' ? pid : '?'} answers`;
  } catch (error) {
    const code = error instanceof SystemManagerError ? error.code : 'E_CONTROL_UNAVAILABLE';
    if (code === 'E_CONTROL_DENIED')
      return bad(
        name,
        'warn',
        `${socket}: not yours to open (${owner}); ${registry}`,
        `run doctor as uid ${stat.uid} (or a member of gid ${stat.gid}) to ask it`,
      );
    return bad(
      name,
      'warn',
      `${socket}: stale, no manager answers (${(error as Error).message}); ${owner}; ${registry}`,
      `a killed manager left it: rm ${socket} (system-manager never reuses a session's socket)`,
    );
  }
  const detail = `${socket}: ${answer}; ${owner}; ${registry}`;
  if ((stat.mode & 0o007) !== 0)
    return bad(
      name,
      'fail',
      `${detail}: other users can open it and control the manager`,
      `chmod 0600 ${socket}, and restart the manager to have it made right`,
    );
  if ((stat.mode & 0o070) !== 0 && stat.gid !== group)
    return bad(
      name,
      'warn',
      `${detail}: group ${stat.gid} can open it, but ${group === undefined ? 'no control.socketGroup is configured' : `control.socketGroup is gid ${group}`}`,
      `chmod 0600 ${socket}, or set control.socketGroup and restart the manager`,
    );
  return ok(name, detail);
}
