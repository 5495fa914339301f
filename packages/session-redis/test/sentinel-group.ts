// A real replicated group for the failover tests: a master, one replica and
// three Sentinels (quorum 2), all redis-server processes on loopback ports
// in one temp directory, removed by `dispose()`. Sentinel rewrites its own
// config file, so each gets one of its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findRedisServer, freePort } from './redis-server.js';

/** The master's name in Sentinel. */
export const MASTER_NAME = 'coremaster';

/** A running group. */
export interface SentinelGroup {
  /** `redis+sentinel://…/coremaster` for the store. */
  readonly url: string;
  readonly masterPort: number;
  readonly replicaPort: number;
  /** The process on a port (master, replica, sentinel), to stop, pause or kill. */
  process(port: number): ChildProcess;
  /** The port Sentinel names as master now. */
  masterNow(): Promise<number>;
  /**
   * The replication link (with `replicationProxy`): `pause()` holds back
   * what the master sends the replica (it falls behind), `resume()` lets it through.
   */
  readonly link: { pause(): void; resume(): void };
  /** The last lines each process printed (Sentinel's +sdown, +odown, +switch-master…), for a failure's message. */
  logTail(): string;
  /** Kills every process and removes the directory. */
  dispose(): Promise<void>;
}

/** Last output lines kept per process. */
const TAIL_LINES = 25;
const tails = new WeakMap<ChildProcess, string[]>();

function start(bin: string, args: readonly string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} not ready after 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stderr?.removeAllListeners('data');
        const tail: string[] = [];
        tails.set(child, tail);
        const keep = (chunk: Buffer) => {
          tail.push(...chunk.toString().split('\n').filter(Boolean));
          tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
        };
        child.stdout?.on('data', keep);
        child.stderr?.on('data', keep);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ask<T>(port: number, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await run(client);
  } finally {
    client.disconnect();
  }
}

/**
 * Starts master, replica and three Sentinels that agree on both (failover
 * after the master is silent for `downAfterMs`).
 */
export async function startSentinelGroup(
  options: { downAfterMs?: number; replicationProxy?: boolean } = {},
): Promise<SentinelGroup> {
  const bin = findRedisServer();
  if (bin === null) throw new Error('no redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'session-redis-sentinel-'));
  const processes = new Map<number, ChildProcess>();
  const link: { proxy: ReplicationProxy | null } = { proxy: null };
  const dispose = async () => {
    await link.proxy?.close();
    await Promise.all(
      [...processes.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGCONT');
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const server = (port: number, extra: readonly string[]) => [
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
      '--dbfilename',
      `dump-${port}.rdb`,
      ...extra,
    ];
    const masterPort = await freePort();
    processes.set(masterPort, await start(bin, server(masterPort, []), /Ready to accept connections/));
    if (options.replicationProxy) link.proxy = await replicationProxy(masterPort);
    // The master's address for the replica and for Sentinel (and through Sentinel for clients).
    const upstream = link.proxy?.port ?? masterPort;
    const replicaPort = await freePort();
    processes.set(
      replicaPort,
      await start(
        bin,
        server(replicaPort, ['--replicaof', '127.0.0.1', String(upstream)]),
        /Ready to accept connections/,
      ),
    );
    await until(
      () => ask(masterPort, async (c) => /connected_slaves:1/.test(await c.info('replication'))),
      'the replica to connect',
    );
    await until(
      () => ask(replicaPort, async (c) => /master_link_status:up/.test(await c.info('replication'))),
      'the replica to sync',
    );
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${upstream} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      processes.set(port, await start(bin, [conf, '--sentinel'], /Sentinel ID is|\+monitor master/));
      sentinelPorts.push(port);
    }
    // A failover needs a quorum that knows the replica and each other.
    for (const port of sentinelPorts)
      await until(
        () =>
          ask(port, async (c) => {
            const replicas = (await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
            const others = (await c.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
            return replicas.length === 1 && others.length === 2;
          }),
        `sentinel ${port} to see the replica and the other sentinels`,
      );
    return {
      url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}`,
      masterPort,
      replicaPort,
      process(port) {
        const child = processes.get(port);
        if (!child) throw new Error(`no process on port ${port}`);
        return child;
      },
      masterNow: () =>
        ask(sentinelPorts[0] as number, async (c) => {
          const [, port] = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [
            string,
            string,
          ];
          return Number(port);
        }),
      logTail: () =>
        [...processes]
          .map(([port, child]) => `--- ${port}:\n${(tails.get(child) ?? []).join('\n')}`)
          .join('\n'),
      link: {
        pause: () => link.proxy?.pause(),
        resume: () => link.proxy?.resume(),
      },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

interface ReplicationProxy {
  readonly port: number;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

// A loopback TCP proxy in front of the master: the address everyone (the
// replica, Sentinel, clients) knows the master by. Paused, it stops reading
// what the master sends on the replication link, so the replica falls behind
// by as long as the pause lasts while both stay connected (real replication
// lag); every other connection passes through untouched.
async function replicationProxy(masterPort: number): Promise<ReplicationProxy> {
  const pairs = new Map<net.Socket, net.Socket>(); // master side → client side
  const links = new Set<net.Socket>(); // master sides of replication links
  // Unpiped, not just paused: a pipe resumes its source on every 'drain'.
  const hold = (upstream: net.Socket, downstream: net.Socket) => {
    upstream.unpipe(downstream);
    upstream.pause();
  };
  const sockets = new Set<net.Socket>();
  let paused = false;
  const server = net.createServer((downstream) => {
    const upstream = net.connect(masterPort, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        pairs.delete(upstream);
        links.delete(upstream);
        downstream.destroy();
        upstream.destroy();
      });
    }
    pairs.set(upstream, downstream);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    // Clients and Sentinels pass through it too (the master's address is the proxy's, so Sentinel
    // never "corrects" the replica's link): only the replica's link is held back, once it says so.
    downstream.on('data', (chunk: Buffer) => {
      if (links.has(upstream) || !/REPLCONF|PSYNC|SYNC/i.test(chunk.toString('latin1'))) return;
      links.add(upstream);
      if (paused) hold(upstream, downstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    pause() {
      paused = true;
      for (const upstream of links) hold(upstream, pairs.get(upstream) as net.Socket);
    },
    resume() {
      paused = false;
      for (const upstream of links) upstream.pipe(pairs.get(upstream) as net.Socket);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
