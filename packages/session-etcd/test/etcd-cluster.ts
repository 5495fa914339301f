// A real 3-member etcd cluster for the tests (Debian's etcd 3.4): loopback
// ports only, data dirs in one temp dir, short election timeouts so faults
// resolve in well under a second. Members can be killed (-9), paused
// (SIGSTOP) and started again; `dispose` SIGCONTs and SIGKILLs every member
// and removes the directory. With `tls`, clients speak TLS and must show a
// certificate of the given CA (peers stay on plain loopback HTTP), and the
// helper's own etcdctl calls use the given admin certificate. Without an
// etcd binary the suites skip with a message — except under CI=true, where
// that is a broken setup and fails.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function findBinary(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  return (
    dirs
      .filter((d) => d !== '')
      .map((d) => join(d, name))
      .find((file) => existsSync(file)) ?? null
  );
}

const ETCD = findBinary('etcd');
const ETCDCTL = findBinary('etcdctl');
const MISSING =
  'no etcd/etcdctl binaries found (install the Debian packages etcd-server and etcd-client, as .ci/run does)';

if ((ETCD === null || ETCDCTL === null) && process.env['CI'] === 'true')
  throw new Error(`@core/session-etcd tests: ${MISSING}; CI=true, so this fails instead of skipping`);

/** Why the cluster suites skip, or null when they can run. */
export const SKIP_REASON: string | null = ETCD && ETCDCTL ? null : MISSING;

/** A free TCP port on 127.0.0.1 (bound and released; a member that then fails to bind it is started again on new ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Client TLS of a cluster: the members' certificate, the CA clients must be signed by, and the helper's admin client certificate. */
export interface ClusterTls {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
}

/** One member. */
export interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly endpoint: string;
  /** The running process's pid (null while stopped). */
  readonly pid: number | null;
}

/** A running cluster. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member. */
  readonly endpoints: readonly string[];
  /** The member the others follow now (asked with etcdctl). */
  leader(): Promise<EtcdMember>;
  /** SIGKILLs a member and waits for its exit. */
  kill(member: EtcdMember): Promise<void>;
  /** Starts a killed member again on its ports and data dir. */
  restart(member: EtcdMember): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(member: EtcdMember): void;
  resume(member: EtcdMember): void;
  /** Runs etcdctl against the running members (with the admin certificate under TLS); returns stdout. */
  ctl(...args: string[]): Promise<string>;
  /** Waits until every running member reports the same leader. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGCONT + SIGKILL every member, remove the data. */
  dispose(): Promise<void>;
}

interface Slot {
  name: string;
  clientPort: number;
  peerPort: number;
  child: ChildProcess | null;
  exited: Promise<void>;
}

function launch(slot: Slot, cluster: string, token: string, root: string, tls: ClusterTls | null): void {
  const scheme = tls === null ? 'http' : 'https';
  // biome-ignore format: one flag and its value per line
  const args = [
    '--name', slot.name,
    '--data-dir', join(root, slot.name),
    '--listen-client-urls', `${scheme}://127.0.0.1:${slot.clientPort}`,
    '--advertise-client-urls', `${scheme}://127.0.0.1:${slot.clientPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${slot.peerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${slot.peerPort}`,
    '--initial-cluster', cluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    '--logger', 'zap',
    '--log-level', 'error',
    '--log-outputs', 'stderr',
    ...(tls === null
      ? []
      : ['--client-cert-auth', '--trusted-ca-file', tls.ca, '--cert-file', tls.serverCert, '--key-file', tls.serverKey]),
  ];
  const child = spawn(ETCD as string, args, { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
  child.stderr?.resume(); // drained, never printed: tests stay silent
  slot.child = child;
  slot.exited = new Promise((resolve) => child.once('exit', () => resolve()));
}

async function etcdctl(
  endpoints: readonly string[],
  tls: ClusterTls | null,
  ...args: string[]
): Promise<string> {
  const security =
    tls === null ? [] : [`--cacert=${tls.ca}`, `--cert=${tls.adminCert}`, `--key=${tls.adminKey}`];
  const { stdout } = await run(
    ETCDCTL as string,
    [
      `--endpoints=${endpoints.join(',')}`,
      '--dial-timeout=300ms',
      '--command-timeout=500ms',
      ...security,
      ...args,
    ],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 5_000,
    },
  );
  return stdout;
}

interface Status {
  Endpoint: string;
  Status: { header: { member_id: number | string }; leader: number | string };
}

/** Starts a 3-member cluster on free loopback ports (with client TLS when `tls` is given) and waits until it has a leader. */
export async function startEtcdCluster(size = 3, options: { tls?: ClusterTls } = {}): Promise<EtcdCluster> {
  const tls = options.tls ?? null;
  const scheme = tls === null ? 'http' : 'https';
  if (SKIP_REASON) throw new Error(SKIP_REASON);
  const root = mkdtempSync(join(tmpdir(), 'session-etcd-cluster-'));
  const slots: Slot[] = [];
  const dispose = async () => {
    await Promise.all(
      slots.map(async (slot) => {
        const child = slot.child;
        if (child === null || child.exitCode !== null || child.signalCode !== null) return;
        try {
          child.kill('SIGCONT');
          child.kill('SIGKILL');
        } catch {
          // gone meanwhile
        }
        await slot.exited;
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++)
      slots.push({
        name: `m${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        child: null,
        exited: Promise.resolve(),
      });
    const initial = slots.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
    const token = `t-${process.pid}-${Date.now()}`;
    for (const slot of slots) launch(slot, initial, token, root, tls);
    const endpoints = slots.map((s) => `${scheme}://127.0.0.1:${s.clientPort}`);
    const member = (slot: Slot): EtcdMember => ({
      name: slot.name,
      clientPort: slot.clientPort,
      endpoint: `${scheme}://127.0.0.1:${slot.clientPort}`,
      get pid() {
        const child = slot.child;
        return child && child.exitCode === null && child.signalCode === null ? (child.pid ?? null) : null;
      },
    });
    const members = slots.map(member);
    const running = () =>
      slots.filter((s) => s.child !== null && s.child.exitCode === null && s.child.signalCode === null);
    const runningEndpoints = () => running().map((s) => `${scheme}://127.0.0.1:${s.clientPort}`);
    const statuses = async (): Promise<Status[]> =>
      JSON.parse(await etcdctl(runningEndpoints(), tls, 'endpoint', 'status', '-w', 'json')) as Status[];
    const cluster: EtcdCluster = {
      members,
      endpoints,
      async leader() {
        const all = await statuses();
        const leaderId = String(all[0]?.Status.leader);
        const found = all.find((s) => String(s.Status.header.member_id) === leaderId);
        const slot = slots.find((s) => found?.Endpoint.endsWith(`:${s.clientPort}`));
        if (!slot) throw new Error(`no leader among ${JSON.stringify(all)}`);
        return members[slots.indexOf(slot)] as EtcdMember;
      },
      async kill(m) {
        const slot = slots[members.indexOf(m)] as Slot;
        slot.child?.kill('SIGCONT');
        slot.child?.kill('SIGKILL');
        await slot.exited;
      },
      async restart(m) {
        const slot = slots[members.indexOf(m)] as Slot;
        launch(slot, initial, token, root, tls);
      },
      ctl: (...args) => etcdctl(runningEndpoints(), tls, ...args),
      pause(m) {
        slots[members.indexOf(m)]?.child?.kill('SIGSTOP');
      },
      resume(m) {
        slots[members.indexOf(m)]?.child?.kill('SIGCONT');
      },
      async waitHealthy(timeoutMs = 20_000) {
        const deadline = Date.now() + timeoutMs;
        let last: unknown = null;
        for (;;) {
          try {
            const all = await statuses();
            const leaders = new Set(all.map((s) => String(s.Status.leader)));
            if (all.length === running().length && leaders.size === 1 && !leaders.has('0')) return;
            last = all;
          } catch (error) {
            last = error;
          }
          if (Date.now() > deadline)
            throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${String(last)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      dispose,
    };
    await cluster.waitHealthy();
    return cluster;
  } catch (error) {
    await dispose();
    throw error;
  }
}
