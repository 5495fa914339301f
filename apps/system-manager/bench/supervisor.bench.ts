// On the built CLI (dist/, plain node) with real processes:
// - crash → answering again: kill -9 of the supervised cache service until it
//   answers /health again, against the floor of that service's own start;
// - log forwarding (logs.destination "manager"): a service printing 100,000 lines/s; the manager's CPU
//   (share of one core) and peak RSS, against the floor of a process that only
//   reads the same pipe.
// pm2's figures for idle and log floods are in idle.bench.ts and log-flood.bench.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNs, runBenchTable } from '@tooling/bench';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(appDir, 'dist', 'cli.js');
const cacheService = path.join(appDir, 'dist', 'example', 'cache-service.js');
const chatty = path.join(appDir, 'test', 'fixtures', 'misbehaving-service.mjs');
const work = mkdtempSync(path.join(os.tmpdir(), 'sm-bench-sup-'));
const started: ChildProcess[] = [];
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function healthOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function untilHealthy(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await healthOk(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} not healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function portEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const name of ['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'event_ui', 'control'])
    env[`SYSTEM_MANAGER_PORT_${name.toUpperCase()}`] = String(await freePort());
  return env;
}

/** Starts `system-manager start` with `config`; resolves when its control port answers /health. */
async function startManager(
  config: unknown,
): Promise<{ child: ChildProcess; ports: { main: number; control: number } }> {
  const file = path.join(work, `config-${started.length}.json`);
  writeFileSync(file, JSON.stringify(config));
  const env = await portEnv();
  const child = spawn(process.execPath, [cli, 'start', '--config', file], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, ...env, CORE_SESSION_DIR: path.join(work, 'sessions'), LOG_LEVEL: 'info' },
  });
  started.push(child);
  const ports = {
    main: Number(env['SYSTEM_MANAGER_PORT_MAIN_API']),
    control: Number(env['SYSTEM_MANAGER_PORT_CONTROL']),
  };
  await untilHealthy(ports.control);
  return { child, ports };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function serviceStatus(
  control: number,
): Promise<{ pid: number; logs: { forwarded: number; dropped: number } }> {
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: control, path: '/status', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  return (JSON.parse(body) as { services: { pid: number; logs: { forwarded: number; dropped: number } }[] })
    .services[0] as { pid: number; logs: { forwarded: number; dropped: number } };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (this process only)
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

/** CPU share of one core and peak RSS of `pid` over `ms`. */
async function sample(pid: number, ms: number): Promise<{ cpu: number; peakRssMiB: number }> {
  const t0 = cpuTicks(pid);
  const began = Date.now();
  let peak = rssMiB(pid);
  while (Date.now() - began < ms) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssMiB(pid));
  }
  const seconds = (Date.now() - began) / 1000;
  return { cpu: (cpuTicks(pid) - t0) / TICKS_PER_SECOND / seconds, peakRssMiB: peak };
}

try {
  // ---- crash → answering again ------------------------------------------------------
  const restartMs: number[] = [];
  // Default config's cache service; resetAfterMs short so every round is a first crash (backoff 100 ms).
  const supervised = await startManager({
    services: [
      {
        name: 'cache-service',
        command: '{node}',
        args: ['{builtin:example/cache-service}'],
        port: 'main_api',
        backoff: { resetAfterMs: 50 },
        maxRestarts: 1_000,
      },
    ],
  });
  await runBenchTable({
    title: 'system-manager — crash → answering again (built dist, plain node)',
    cases: [
      {
        name: 'floor: spawn the cache service → /health answers → SIGTERM',
        floor: true,
        rounds: 10,
        fn: async () => {
          const port = await freePort();
          const child = spawn(process.execPath, [cacheService], {
            stdio: 'ignore',
            env: { ...process.env, PORT: String(port) },
          });
          started.push(child);
          await untilHealthy(port);
          await stop(child);
        },
      },
      {
        name: 'kill -9 of the supervised service → answering again (each op also waits 150 ms healthy)',
        rounds: 10,
        fn: async () => {
          const { pid } = await serviceStatus(supervised.ports.control);
          const began = performance.now();
          process.kill(pid, 'SIGKILL');
          await new Promise((r) => setTimeout(r, 1));
          await untilHealthy(supervised.ports.main);
          restartMs.push(performance.now() - began);
          await new Promise((r) => setTimeout(r, 150)); // healthy past resetAfterMs
        },
      },
    ],
    goals: [
      {
        label: 'answering again within backoff (100 ms) + the service’s own start + 150 ms',
        check: (r) => {
          const floorMs = r.get('floor: spawn the cache service → /health answers → SIGTERM')!.nsPerOp / 1e6;
          const sorted = [...restartMs].sort((a, b) => a - b);
          const ms = sorted[sorted.length >> 1] ?? Number.NaN;
          return {
            ok: ms < 100 + floorMs + 150,
            measured: `${formatNs(ms * 1e6)} median (n=${sorted.length}), floor ${formatNs(floorMs * 1e6)}`,
          };
        },
      },
    ],
  });
  await stop(supervised.child);

  // ---- log forwarding at 100,000 lines/s -----------------------------------------------
  const SECONDS = 5;
  const chattyService = (extra: Record<string, unknown> = {}) => ({
    services: [
      {
        name: 'chatty',
        command: process.execPath,
        args: [chatty],
        port: 'main_api',
        env: { MODE: 'chatty', LINES_PER_SECOND: '100000' },
      },
    ],
    ...extra,
  });
  const rows: {
    name: string;
    cpu: number;
    peakRssMiB: number;
    linesPerSecond?: number;
    forwardedPerSecond?: number;
  }[] = [];

  // Floor: a Node process that only reads the service's stdout pipe (and splits lines).
  const floorPort = await freePort();
  const reader = spawn(
    process.execPath,
    [
      '-e',
      `const c = require('child_process').spawn(process.execPath, [${JSON.stringify(chatty)}], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, MODE: 'chatty', LINES_PER_SECOND: '100000', PORT: '${floorPort}' } });
       let n = 0; c.stdout.on('data', (b) => { for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; });
       process.on('SIGTERM', () => { c.kill('SIGKILL'); process.exit(0); });`,
    ],
    { stdio: 'ignore' },
  );
  started.push(reader);
  await untilHealthy(floorPort);
  rows.push({
    name: 'floor: a process that only reads the pipe',
    ...(await sample(reader.pid as number, SECONDS * 1000)),
  });
  await stop(reader);

  for (const [name, config] of [
    [
      'manager, default limit (1,000 lines/s forwarded, the rest counted)',
      chattyService({ logs: { destination: 'manager' } }),
    ],
    [
      'manager, limit raised to 100,000 lines/s (every line forwarded)',
      chattyService({ logs: { destination: 'manager', maxLinesPerSecond: 100_000 } }),
    ],
  ] as const) {
    const m = await startManager(config);
    await new Promise((r) => setTimeout(r, 500));
    const before = (await serviceStatus(m.ports.control)).logs;
    const measured = await sample(m.child.pid as number, SECONDS * 1000);
    const after = (await serviceStatus(m.ports.control)).logs;
    const forwarded = (after.forwarded - before.forwarded) / SECONDS;
    const seen = forwarded + (after.dropped - before.dropped) / SECONDS;
    rows.push({ name, ...measured, linesPerSecond: seen, forwardedPerSecond: forwarded });
    await stop(m.child);
  }

  console.log(
    `\n### system-manager — forwarding a service printing 100,000 lines/s (${SECONDS} s each, manager's stderr to /dev/null)\n`,
  );
  console.log('| case | lines/s read | lines/s forwarded | CPU (share of one core) | peak RSS |');
  console.log('|---|---:|---:|---:|---:|');
  const count = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
  for (const r of rows)
    console.log(
      `| ${r.name} | ${count(r.linesPerSecond)} | ${count(r.forwardedPerSecond)} | ${(r.cpu * 100).toFixed(0)} % | ${r.peakRssMiB.toFixed(0)} MiB |`,
    );
  const worst = Math.max(...rows.slice(1).map((r) => r.cpu));
  console.log('\n| goal | measured | met |\n|---|---|:---:|');
  console.log(
    `| manager under 1 core at 100k lines/s | ${(worst * 100).toFixed(0)} % (worst row) | ${worst < 1 ? 'yes' : 'no'} |`,
  );
} finally {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
