// A real etcd cluster for the app's fleet tests: the 3-member loopback
// cluster of @core/session-etcd's own tests (started from its file, so both
// suites fault the same cluster the same way), plus etcdctl for reading what
// the app wrote and a way to run a process as another host.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

export {
  type EtcdCluster,
  type EtcdMember,
  SKIP_REASON,
  startEtcdCluster,
} from '../../../packages/session-etcd/test/etcd-cluster.js';

const exec = promisify(execFile);

const ETCDCTL = ['/usr/bin/etcdctl', '/usr/local/bin/etcdctl'].find((file) => existsSync(file)) ?? 'etcdctl';

/** Runs etcdctl (API v3) against `endpoints`; resolves with its stdout. */
export async function etcdctl(endpoints: readonly string[], ...args: string[]): Promise<string> {
  const { stdout } = await exec(
    ETCDCTL,
    [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=500ms', '--command-timeout=2s', ...args],
    { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 },
  );
  return stdout;
}

/** The keys under `prefix` (one etcdctl read). */
export async function keysUnder(endpoints: readonly string[], prefix: string): Promise<string[]> {
  const out = await etcdctl(endpoints, 'get', '--prefix', '--keys-only', prefix);
  return out.split('\n').filter((line) => line !== '');
}

/** The cluster's current revision, as the first answering member reports it. */
export async function revision(endpoints: readonly string[]): Promise<bigint> {
  const statuses = JSON.parse(await etcdctl(endpoints, 'endpoint', 'status', '-w', 'json')) as {
    Status: { header: { revision: number | string } };
  }[];
  const found = statuses[0]?.Status.header.revision;
  if (found === undefined) throw new Error('etcdctl endpoint status listed no member');
  return BigInt(found);
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((file) => existsSync(file)) ?? null;

/**
 * Whether a process can be started in a UTS namespace of its own with
 * another hostname (util-linux unshare, CAP_SYS_ADMIN: root, as in CI's
 * container). Its host identity (a digest over the hostname, machine id,
 * boot id and pid namespace) then differs from this host's, so every other
 * process judges its session by its lease alone, as for another machine.
 */
export const CAN_BE_ANOTHER_HOST =
  UNSHARE !== null &&
  spawnSync(UNSHARE, ['--uts', '/bin/sh', '-c', 'hostname sm-probe-host'], { stdio: 'ignore' }).status === 0;

/**
 * The argv that runs `command args…` as host `hostname`: a new UTS namespace
 * whose hostname is set before the command replaces the shell (same pid, so
 * a SIGKILL to the spawned process reaches the command itself).
 */
export function asHost(hostname: string, command: string, args: readonly string[]): [string, string[]] {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(hostname)) throw new TypeError(`not a hostname: ${hostname}`);
  return [
    UNSHARE ?? 'unshare',
    ['--uts', '/bin/sh', '-c', `hostname ${hostname} && exec "$0" "$@"`, command, ...args],
  ];
}
