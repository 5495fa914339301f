// A real redis-server for the fleet tests (loopback, free port, no
// persistence), stopped by its PID. Without the binary the suites skip with a
// message — except under CI=true, where they fail (a missing server must not
// pass as green).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { freePort, tagEnv, tempDir } from './helpers.js';

/** Path of redis-server, or null. */
export const REDIS_SERVER_BIN: string | null =
  [process.env['REDIS_SERVER_BIN'], '/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
    (file): file is string => typeof file === 'string' && existsSync(file),
  ) ?? null;

/** Whether the Redis suites may skip: only outside CI, and only without the binary. */
export const SKIP_REDIS = REDIS_SERVER_BIN === null && process.env['CI'] !== 'true';
if (REDIS_SERVER_BIN === null && !SKIP_REDIS)
  console.error(
    'system-manager: CI=true but no redis-server binary: the Redis tests fail instead of skipping',
  );

/** Starts redis-server; resolves when it accepts connections. */
export async function startRedis(
  fixedPort?: number,
): Promise<{ url: string; port: number; pid: number; stop: () => Promise<void> }> {
  if (REDIS_SERVER_BIN === null) throw new Error('no redis-server binary');
  const port = fixedPort ?? (await freePort());
  const tmp = tempDir('sm-redis-');
  const child: ChildProcess = spawn(
    REDIS_SERVER_BIN,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp.dir],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...tagEnv() } },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  }).catch((error: unknown) => {
    // Nobody gets a `stop` for a server that never came up: its directory goes now.
    tmp.remove();
    throw error;
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid as number, 'SIGKILL');
        await exited;
      }
      tmp.remove();
    },
  };
}

/** One command over a fresh connection, in RESP (the app does not depend on a Redis client itself). */
export function redisCommand(url: string, ...args: (string | number)[]): Promise<unknown> {
  const { hostname, port } = new URL(url);
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseReply(data, 0);
      if (parsed === null) return;
      socket.end();
      if (parsed.value instanceof Error) reject(parsed.value);
      else resolve(parsed.value);
    });
    socket.on('error', reject);
  });
}

function parseReply(buffer: Buffer, at: number): { value: unknown; next: number } | null {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[at] as number);
  const line = buffer.toString('utf8', at + 1, lineEnd);
  if (type === '+') return { value: line, next: lineEnd + 2 };
  if (type === '-') return { value: new Error(line), next: lineEnd + 2 };
  if (type === ':') return { value: Number(line), next: lineEnd + 2 };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, next: lineEnd + 2 };
    if (buffer.length < lineEnd + 2 + length + 2) return null;
    return {
      value: buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + length),
      next: lineEnd + 2 + length + 2,
    };
  }
  const items: unknown[] = [];
  let next = lineEnd + 2;
  for (let i = 0; i < Number(line); i++) {
    const item = parseReply(buffer, next);
    if (item === null) return null;
    items.push(item.value);
    next = item.next;
  }
  return { value: items, next };
}
