// A real redis-server for the tests: a free loopback port, no persistence, a
// private directory; stopped by its PID. Without a redis-server binary the
// tests skip with a message — except under CI=true, where a missing server is
// a broken CI setup and the suite fails instead.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Path of redis-server, or null when it is not installed. */
export function findRedisServer(): string | null {
  const chosen = process.env['REDIS_SERVER_BIN'];
  if (chosen !== undefined && chosen !== '') return existsSync(chosen) ? chosen : null; // set: only that one
  const candidates = [
    process.env['REDIS_SERVER_BIN'],
    ...(process.env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, 'redis-server')),
    '/usr/bin/redis-server',
    '/usr/local/bin/redis-server',
  ];
  return candidates.find((file): file is string => typeof file === 'string' && existsSync(file)) ?? null;
}

const MISSING =
  'no redis-server binary found (install the Debian package redis-server, as .ci/run does, or set REDIS_SERVER_BIN)';

/** Under CI=true a missing redis-server fails the suite (a skipped suite would pass CI silently). */
if (findRedisServer() === null && process.env['CI'] === 'true')
  throw new Error(`@core/session-redis tests: ${MISSING}; CI=true, so this fails instead of skipping`);

/** Why the suite is skipped, or null when it can run. */
export const SKIP_REASON: string | null = findRedisServer() ? null : MISSING;

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
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

/** A running redis-server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops it (SIGKILL when `hard`, else SIGTERM) and waits for its exit. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port (after `stop`); empty, as after a crash without persistence. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

async function launch(
  bin: string,
  port: number,
  dir: string,
  cluster: boolean,
  replicaOf?: number,
): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  // A one-node Redis Cluster: the server then refuses any command or script whose keys span slots (CROSSSLOT).
  if (cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'));
  if (replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)),
    );
    setTimeout(() => reject(new Error(`redis-server not ready after 10 s:\n${output}`)), 10_000).unref();
  });
  child.stdout?.removeAllListeners('data').resume();
  child.stderr?.removeAllListeners('data').resume();
  return child;
}

function stopChild(child: ChildProcess, hard: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    if (child.pid !== undefined) process.kill(child.pid, hard ? 'SIGKILL' : 'SIGTERM');
  });
}

/**
 * Starts a redis-server on a free loopback port; with `cluster`, as a
 * one-node Redis Cluster owning every slot (ready once `cluster_state:ok`).
 */
export async function startRedisServer(
  options: { cluster?: boolean; replicaOf?: number } = {},
): Promise<RedisServer> {
  const bin = findRedisServer();
  if (bin === null) throw new Error(SKIP_REASON ?? 'no redis-server');
  const port = await freePort();
  const cluster = options.cluster ?? false;
  const dir = mkdtempSync(join(tmpdir(), 'session-redis-test-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // Until it is returned, nobody can dispose of the server: a failed start removes its directory itself.
  let child: ChildProcess;
  try {
    child = await launch(bin, port, dir, cluster, options.replicaOf);
  } catch (error) {
    removeDir();
    throw error;
  }
  if (cluster)
    await assignAllSlots(port).catch(async (error: unknown) => {
      await stopChild(child, true);
      removeDir();
      throw error;
    });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid as number;
    },
    stop: (hard = false) => stopChild(child, hard),
    async restart() {
      await stopChild(child, true);
      child = await launch(bin, port, dir, cluster, options.replicaOf);
      if (cluster) await assignAllSlots(port);
    },
    async dispose() {
      await stopChild(child, true);
      removeDir();
    },
  };
}

/** Gives the one node every slot and waits for the cluster to report ok. */
async function assignAllSlots(port: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const admin = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383').catch(() => undefined); // already assigned after a restart
    const deadline = Date.now() + 15_000;
    while (!String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline)
        throw new Error('the one-node cluster did not reach cluster_state:ok in 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    admin.disconnect();
  }
}
