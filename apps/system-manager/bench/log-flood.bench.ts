// A log flood, on the built CLI (dist/, plain node) with real processes: one
// service printing 100,000 lines/s for BENCH_FLOOD_SECONDS (default 10), then
// "chatty done <lines printed>". For each supervisor: the lines it kept
// (counted in its files, or forwarded into its log), its own CPU for the
// flood, the CPU of the log writer processes it started (s6-log, one per
// stream: they do the writing the manager no longer does, so they are
// counted apart and in the total), and the service's own CPU for printing
// the lines (the floor: what they cost at their source). Rows:
// system-manager with the default destination outside systemd (a file per
// service, written by s6-log), the same with s6-log off PATH (the manager
// writes the files itself), the "manager" destination (every line through
// its JSON logger, rate-limited), and pm2 (its daemon writes each app's
// stdout to ~/.pm2/logs) when `pm2` is on PATH.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env['BENCH_FLOOD_SECONDS'] ?? 10);
const RATE = 100_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(appDir, 'dist', 'cli.js');
const chatty = path.join(appDir, 'test', 'fixtures', 'misbehaving-service.mjs');
const work = mkdtempSync(path.join(os.tmpdir(), 'sm-bench-flood-'));
const pm2Home = path.join(work, 'pm2');
const started: ChildProcess[] = [];
const chattyEnv = (rate: number) => ({
  MODE: 'chatty',
  LINES_PER_SECOND: String(rate),
  DURATION_MS: String(SECONDS * 1000),
});
/** The baseline: the same service printing 100 lines/s (one per 10 ms tick), for what the manager costs anyway over the window. */
const QUIET_RATE = 100;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function get(port: number, route: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: false, timeout: 1_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

async function until<T>(
  what: string,
  probe: () => T | null | Promise<T | null>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function newlines(file: string): number {
  const data = readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  return n;
}

/** "chatty done <n>" somewhere in `text`: the lines the service printed. */
function printedIn(text: string): number | null {
  const match = /chatty done (\d+)/.exec(text);
  return match ? Number(match[1]) : null;
}

interface Row {
  name: string;
  printed: number;
  kept: number;
  supervisorCpu: number;
  /** CPU of the log writer processes (null: the supervisor writes itself). */
  writerCpu: number | null;
  serviceCpu: number;
}

/** Every file of a directory tree (the logdirs of s6-log, or the flat files of the manager's own writer). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

type WriterStatus = { pid: number | null };
type ServiceLogs = { destination: string; writer?: string; writers?: WriterStatus[] };

async function systemManagerRow(
  name: string,
  logs: Record<string, unknown>,
  extraEnv: Record<string, string> = {},
  rate = RATE,
): Promise<Row> {
  const dir = mkdtempSync(path.join(work, 'sm-'));
  const port = await freePort();
  const control = await freePort();
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      ports: { flood: port },
      logs: { dir: path.join(dir, 'logs'), ...logs },
      services: [
        { name: 'chatty', command: process.execPath, args: [chatty], port: 'flood', env: chattyEnv(rate) },
      ],
    }),
  );
  const child = spawn(process.execPath, [cli, 'start', '--config', 'config.json'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      CORE_SESSION_DIR: path.join(dir, 'sessions'),
      SYSTEM_MANAGER_PORT_CONTROL: String(control),
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
  });
  started.push(child);
  let forwarded = 0;
  child.stderr?.on('data', (c: Buffer) => {
    const text = c.toString();
    for (let i = text.indexOf('"stream":"stdout"'); i >= 0; i = text.indexOf('"stream":"stdout"', i + 1))
      forwarded++;
  });
  const status = await until('the manager answering', () => get(control, '/status'), 30_000);
  const service = (JSON.parse(status) as { services: { pid: number; logs: ServiceLogs }[] }).services[0];
  const servicePid = service?.pid as number;
  const writerPids = (service?.logs.writers ?? []).map((w) => w.pid).filter((p): p is number => p !== null);
  const byWriters = service?.logs.writer === 's6-log';
  const before = cpuSeconds(child.pid as number);
  // Started with the service: all their CPU is the flood's.
  const logDir = path.join(dir, 'logs');
  const stderrFile = byWriters
    ? path.join(logDir, 'chatty', 'stderr', 'current')
    : path.join(logDir, 'chatty.log');
  // The service prints exactly RATE × SECONDS lines (it catches up on late ticks); its "chatty done"
  // line is in the file, but may be among the lines the "manager" destination drops.
  const printed =
    logs['destination'] === 'manager'
      ? await new Promise<number>((r) => setTimeout(() => r(rate * SECONDS), (SECONDS + 1) * 1000))
      : await until('the flood to end', () =>
          existsSync(stderrFile) ? printedIn(readFileSync(stderrFile, 'utf8').slice(-4096)) : null,
        );
  await new Promise((r) => setTimeout(r, 500)); // the last chunks written
  const supervisorCpu = cpuSeconds(child.pid as number) - before;
  const writerCpu = byWriters ? writerPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) : null;
  const serviceCpu = cpuSeconds(servicePid);
  let kept = forwarded;
  if (byWriters)
    kept = filesUnder(path.join(logDir, 'chatty', 'stdout')).reduce((n, f) => n + newlines(f), 0);
  else if (logs['destination'] !== 'manager') {
    kept = filesUnder(logDir).reduce((n, f) => n + newlines(f), 0);
    kept -= 2; // the service's own stderr lines, in the same file: "listening", "chatty done"
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { name, printed, kept, supervisorCpu, writerCpu, serviceCpu };
}

function pm2(args: string[]): string {
  return execFileSync('pm2', args, {
    env: { ...process.env, PM2_HOME: pm2Home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function pm2Row(): Promise<Row | null> {
  let version: string;
  try {
    version = pm2(['--version']).trim().split('\n').pop() as string;
  } catch {
    return null;
  }
  const port = await freePort();
  const ecosystem = path.join(work, 'ecosystem.json');
  writeFileSync(
    ecosystem,
    JSON.stringify({
      apps: [{ name: 'chatty', script: chatty, env: { ...chattyEnv(RATE), PORT: String(port) } }],
    }),
  );
  pm2(['start', ecosystem]);
  const daemon = Number(readFileSync(path.join(pm2Home, 'pm2.pid'), 'utf8'));
  const before = cpuSeconds(daemon);
  const servicePid = await until('pm2 starting the service', () => {
    const pid = Number(pm2(['pid', 'chatty']).trim());
    return pid > 0 ? pid : null;
  });
  const errLog = path.join(pm2Home, 'logs', 'chatty-error.log');
  const printed = await until('the flood to end', () =>
    existsSync(errLog) ? printedIn(readFileSync(errLog, 'utf8')) : null,
  );
  await new Promise((r) => setTimeout(r, 500));
  const row = {
    name: `pm2 ${version} (daemon writes ~/.pm2/logs)`,
    printed,
    kept: newlines(path.join(pm2Home, 'logs', 'chatty-out.log')),
    supervisorCpu: cpuSeconds(daemon) - before,
    writerCpu: null,
    serviceCpu: cpuSeconds(servicePid),
  };
  pm2(['kill']);
  return row;
}

try {
  // An empty PATH: the manager finds no s6-log and writes the files itself (node and the service run by absolute path).
  const noWriterBin = path.join(work, 'empty-bin');
  mkdirSync(noWriterBin);
  const rows: Row[] = [
    await systemManagerRow(
      'system-manager, logs.destination "file" (default outside systemd), written by s6-log',
      {
        destination: 'file',
        keepFiles: 50,
      },
    ),
    await systemManagerRow(
      'system-manager, logs.destination "file", s6-log not on PATH (the manager writes)',
      { destination: 'file', keepFiles: 50 },
      { PATH: noWriterBin },
    ),
    await systemManagerRow('system-manager, logs.destination "manager" (its JSON log, 1,000 lines/s)', {
      destination: 'manager',
    }),
  ];
  const quiet = await systemManagerRow('baseline', { destination: 'file', keepFiles: 50 }, {}, QUIET_RATE);
  const peer = await pm2Row();
  if (peer) rows.push(peer);
  const count = (n: number) => Math.round(n).toLocaleString('en-US');
  const seconds = (n: number | null) => (n === null ? '—' : `${n.toFixed(2)} s`);
  console.log(`\n### system-manager — a service printing ${count(RATE)} lines/s for ${SECONDS} s\n`);
  console.log(
    '| supervisor | lines printed | lines kept | supervisor CPU | log writers’ CPU | together, per 100k lines | service’s own CPU (floor) | supervisor ÷ service | together ÷ service |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const together = r.supervisorCpu + (r.writerCpu ?? 0);
    console.log(
      `| ${r.name} | ${count(r.printed)} | ${count(r.kept)} | ${seconds(r.supervisorCpu)} | ${seconds(r.writerCpu)} | ${((together / r.printed) * 100_000 * 1000).toFixed(1)} ms | ${r.serviceCpu.toFixed(2)} s | ${(r.supervisorCpu / r.serviceCpu).toFixed(2)} | ${(together / r.serviceCpu).toFixed(2)} |`,
    );
  }
  if (!peer) console.log('| pm2 | not installed (`npm i -g pm2` adds the row) | | | | | | | |');
  console.log(
    `\nBaseline: the same manager over the same window, its service printing ${QUIET_RATE} lines/s: manager ${seconds(quiet.supervisorCpu)}, log writers ${seconds(quiet.writerCpu)}.`,
  );
  const file = rows[0] as Row;
  console.log('\n| goal | measured | met |\n|---|---|:---:|');
  console.log(
    `| file: every line kept | ${count(file.kept)} of ${count(file.printed)} | ${file.kept === file.printed ? 'yes' : 'no'} |`,
  );
  const ratio = file.supervisorCpu / file.serviceCpu;
  console.log(
    `| file: supervisor ≤ 0.1× the service's own CPU | ${ratio.toFixed(3)}× | ${ratio <= 0.1 ? 'yes' : 'no'} |`,
  );
  const flood = Math.max(0, file.supervisorCpu - quiet.supervisorCpu) / file.serviceCpu;
  console.log(
    `| file: the flood's share of the supervisor (its CPU minus the baseline's) ≤ 0.1× the service's own | ${flood.toFixed(3)}× | ${flood <= 0.1 ? 'yes' : 'no'} |`,
  );
  const withWriters = (file.supervisorCpu + (file.writerCpu ?? 0)) / file.serviceCpu;
  console.log(
    `| file: supervisor and its log writers together ≤ 0.1× the service's own CPU | ${withWriters.toFixed(3)}× | ${withWriters <= 0.1 ? 'yes' : 'no'} |`,
  );
  console.log('CPU is counted in ticks of 10 ms.');
} finally {
  try {
    if (existsSync(pm2Home)) pm2(['kill']);
  } catch {
    // pm2 was not started
  }
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
