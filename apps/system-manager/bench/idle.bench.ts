// Idle cost, on the built CLI (dist/, plain node) with real processes: ten
// healthy HTTP services, nothing else happening. Side by side, measured over
// the same window:
// - the manager's own CPU (utime + stime of its pid) and RSS;
// - floor: a bare Node process running the same health checks on the same
//   services at the same cadence (dist/supervisor: the probe and its cadence),
//   i.e. what the checks themselves cost;
// - pm2's daemon (God process) supervising the same ten services, when `pm2`
//   is on PATH (PM2_HOME in a temp dir, killed at the end).
// BENCH_IDLE_SECONDS (default 120) sets the window, BENCH_IDLE_WARMUP_SECONDS
// (default 120) the settling time before it: the checks back off to their
// idle intervals within ~35 s, and V8's memory reducer runs its one-off
// compactions of the start-up heap about 80 s after start (~60 ms of CPU).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVICES = 10;
const WINDOW_S = Number(process.env['BENCH_IDLE_SECONDS'] ?? 120);
const WARMUP_S = Number(process.env['BENCH_IDLE_WARMUP_SECONDS'] ?? 120);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(appDir, 'dist');
const work = mkdtempSync(path.join(os.tmpdir(), 'sm-bench-idle-'));
const started: ChildProcess[] = [];
const pm2Home = path.join(work, 'pm2');

const SERVICE_SOURCE = `import http from 'node:http';
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;
const FLOOR_SOURCE = `import { probeService } from ${JSON.stringify(`${dist}/supervisor/health.js`)};
import { IdleCadence } from ${JSON.stringify(`${dist}/supervisor/idle-cadence.js`)};
for (const port of JSON.parse(process.env.PORTS)) {
  const cadence = new IdleCadence(5000, 30000);
  const tick = async () => setTimeout(tick, cadence.next(await probeService({ type: 'http', path: '/health' }, port)));
  setTimeout(tick, cadence.reset());
}
`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function untilAnswering(ports: readonly number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (!(await answers(port))) {
      if (Date.now() > deadline) throw new Error(`port ${port} not answering within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (this process only)
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

async function servicePorts(): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < SERVICES; i++) ports.push(await freePort());
  return ports;
}

async function startManager(): Promise<number> {
  const ports = await servicePorts();
  const config = {
    ports: Object.fromEntries(ports.map((port, i) => [`svc_${i}`, port])),
    services: ports.map((_, i) => ({
      name: `svc-${i}`,
      command: process.execPath,
      args: [path.join(work, 'service.mjs')],
      port: `svc_${i}`,
    })),
  };
  writeFileSync(path.join(work, 'config.json'), JSON.stringify(config));
  const control = await freePort();
  const child = spawn(process.execPath, [path.join(dist, 'cli.js'), 'start', '--config', 'config.json'], {
    cwd: work,
    stdio: 'ignore',
    env: {
      ...process.env,
      CORE_SESSION_DIR: path.join(work, 'sessions'),
      SYSTEM_MANAGER_PORT_CONTROL: String(control),
      LOG_LEVEL: 'info',
    },
  });
  started.push(child);
  await untilAnswering([control, ...ports]);
  return child.pid as number;
}

async function startFloor(): Promise<number> {
  const ports = await servicePorts();
  for (const port of ports) {
    started.push(
      spawn(process.execPath, [path.join(work, 'service.mjs')], {
        stdio: 'ignore',
        env: { ...process.env, PORT: String(port) },
      }),
    );
  }
  await untilAnswering(ports);
  const floor = spawn(process.execPath, [path.join(work, 'floor.mjs')], {
    stdio: 'ignore',
    env: { ...process.env, PORTS: JSON.stringify(ports) },
  });
  started.push(floor);
  return floor.pid as number;
}

function pm2(args: string[]): string {
  return execFileSync('pm2', args, {
    env: { ...process.env, PM2_HOME: pm2Home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function pm2Version(): string | null {
  try {
    return execFileSync('pm2', ['--version'], {
      env: { ...process.env, PM2_HOME: pm2Home },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .pop() as string;
  } catch {
    return null;
  }
}

async function startPm2(): Promise<number> {
  const ports = await servicePorts();
  const ecosystem = path.join(work, 'ecosystem.json');
  writeFileSync(
    ecosystem,
    JSON.stringify({
      apps: ports.map((port, i) => ({
        name: `svc-${i}`,
        script: path.join(work, 'service.mjs'),
        env: { PORT: String(port) },
        autorestart: true,
      })),
    }),
  );
  pm2(['start', ecosystem]);
  await untilAnswering(ports);
  return Number(readFileSync(path.join(pm2Home, 'pm2.pid'), 'utf8'));
}

interface Row {
  readonly name: string;
  readonly pid: number;
  ticks0?: number;
  cpuSeconds?: number;
  rss?: number;
}

try {
  writeFileSync(path.join(work, 'service.mjs'), SERVICE_SOURCE);
  writeFileSync(path.join(work, 'floor.mjs'), FLOOR_SOURCE);
  const version = pm2Version();
  const rows: Row[] = [
    { name: 'system-manager (10 services, HTTP health checks)', pid: await startManager() },
    { name: 'floor: the same health checks alone (bare Node process)', pid: await startFloor() },
  ];
  if (version)
    rows.push({ name: `pm2 ${version} daemon (10 services, no health checks)`, pid: await startPm2() });
  process.stderr.write(`settling ${WARMUP_S} s, then measuring ${WINDOW_S} s …\n`);
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  for (const row of rows) row.ticks0 = cpuTicks(row.pid);
  const began = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const seconds = (Date.now() - began) / 1000;
  for (const row of rows) {
    row.cpuSeconds = (cpuTicks(row.pid) - (row.ticks0 as number)) / TICKS_PER_SECOND;
    row.rss = rssMiB(row.pid);
  }
  const per60 = (row: Row) => ((row.cpuSeconds as number) * 60) / seconds;
  console.log(
    `\n### system-manager — idle, ${SERVICES} healthy services (${Math.round(seconds)} s window)\n`,
  );
  console.log('| process | CPU per 60 s | share of one core | RSS |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows)
    console.log(
      `| ${row.name} | ${per60(row).toFixed(3)} s | ${((per60(row) / 60) * 100).toFixed(3)} % | ${(row.rss as number).toFixed(1)} MiB |`,
    );
  if (!version) console.log('| pm2 | not installed (`npm i -g pm2` adds the row) | | |');
  const manager = per60(rows[0] as Row);
  console.log(
    `\ngoal: manager ≤ 0.06 s CPU per 60 s (0.1 % of a core): ${manager.toFixed(3)} s — ${manager <= 0.06 ? 'met' : 'NOT met'}`,
  );
  console.log(`CPU is counted in ticks of 10 ms: ±${(0.01 * (60 / seconds)).toFixed(3)} s per row.`);
} finally {
  if (pm2Version() !== null) {
    try {
      pm2(['kill']);
    } catch {
      // nothing was started under pm2
    }
  }
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1_500));
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
