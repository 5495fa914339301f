// `top` as an operator runs it (built dist, plain node, in a pseudo-terminal
// made by util-linux `script`): time to its first frame beside `node -e ""`
// run the same way, interleaved; then its own CPU over 60 s against a manager
// with four services, one of them answering cache lookups all along.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] ?? Number.NaN;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `command` in a fresh pseudo-terminal of 120 × 30. */
function inPty(command: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('script', ['-qfec', `stty cols 120 rows 30; exec ${command}`, '/dev/null'], {
    env,
    stdio: ['pipe', 'pipe', 'ignore'],
  });
}

/** Milliseconds from spawn until `until` is seen on the terminal (then `q`), or until exit. */
function timed(command: string, env: NodeJS.ProcessEnv, until?: string): Promise<number> {
  const began = performance.now();
  const child = inPty(command, env);
  let seen = '';
  let at: number | undefined;
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      seen += c.toString();
      if (until !== undefined && at === undefined && seen.includes(until)) {
        at = performance.now() - began;
        child.stdin?.write('q');
      }
    });
    child.once('exit', (code) => {
      const ms = until === undefined ? performance.now() - began : at;
      if (code !== 0 || ms === undefined) reject(new Error(`exit ${code}: ${seen.slice(-500)}`));
      else resolve(ms);
    });
  });
}

/** The pid of the node process running `cli` under `root` (script → shell exec'd → node; script's own command line names `cli` too). */
function nodeUnder(root: number): number | null {
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === process.execPath && argv[1] === cli) return pid;
      for (const task of [pid])
        queue.push(
          ...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map(Number),
        );
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sm-top-bench-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  CORE_SESSION_DIR: path.join(dir, 'sessions'),
  SYSTEM_MANAGER_RUNTIME_DIR: path.join(dir, 'run'),
  XDG_STATE_HOME: path.join(dir, 'state'),
  LOG_LEVEL: 'info',
  TERM: 'xterm-256color',
};
const ports = ['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'control'];
for (const name of ports) env[`SYSTEM_MANAGER_PORT_${name.toUpperCase()}`] = String(await freePort());
const service = (name: string, port: string) => ({
  name,
  command: '{node}',
  args: ['{builtin:example/cache-service}'],
  port,
});
writeFileSync(
  path.join(dir, 'config.json'),
  JSON.stringify({
    services: [
      service('cache', 'main_api'),
      service('router', 'websocket_router'),
      service('frontend', 'frontend'),
      service('llama', 'llama_cpp'),
    ],
  }),
);
const manager = spawn(process.execPath, [cli, 'start', '--config', path.join(dir, 'config.json')], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env,
});
try {
  let err = '';
  await new Promise<void>((resolve, reject) => {
    manager.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('"all services healthy"')) resolve();
    });
    manager.once('exit', (code) => reject(new Error(`start exited ${code}: ${err}`)));
  });

  // 1. Time to the first frame showing the services, beside the floor.
  const cases = [
    { name: 'node -e "" (floor, in a pty)', command: `${process.execPath} -e ""` },
    // The first frame with the services in it (a row's state), not just the title.
    { name: 'system-manager top: first frame', command: `${process.execPath} ${cli} top`, until: 'healthy' },
  ];
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]));
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 20);
  for (let r = 0; r < rounds + 2; r++) {
    for (const c of [...cases].sort(() => Math.random() - 0.5)) {
      const ms = await timed(c.command, env, c.until);
      if (r >= 2) samples.get(c.name)?.push(ms);
    }
  }
  const floor = median(samples.get(cases[0]?.name as string) ?? []);
  const rows = cases.map((c) => {
    const xs = samples.get(c.name) ?? [];
    return `| ${c.name} | ${median(xs).toFixed(1)} ms | ${(median(xs) / floor).toFixed(2)} | ${pct(xs, 0.1).toFixed(1)}–${pct(xs, 0.9).toFixed(1)} ms |`;
  });

  // 2. Its own CPU over a minute, the cache service answering ~20 lookups a second.
  const seconds = Number(process.env['BENCH_TOP_SECONDS'] ?? 60);
  const cachePort = env['SYSTEM_MANAGER_PORT_MAIN_API'];
  const load = setInterval(() => {
    fetch(`http://127.0.0.1:${cachePort}/lookup?key=k${Math.floor(Math.random() * 10)}`).catch(() => {});
  }, 50);
  const top = inPty(`${process.execPath} ${cli} top`, env);
  let screen = '';
  top.stdout?.on('data', (c: Buffer) => {
    screen += c.toString();
    screen = screen.slice(-20_000);
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const pid = nodeUnder(top.pid as number);
  if (pid === null) throw new Error('the top process was not found under script');
  const before = cpuTicks(pid);
  const began = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const ticks = cpuTicks(pid) - before;
  const wall = (performance.now() - began) / 1000;
  clearInterval(load);
  const exited = new Promise((r) => top.once('exit', r));
  top.stdin?.write('q');
  await exited;
  const cpuSeconds = ticks / 100;
  process.stdout.write(
    [
      '### system-manager top — first frame and its own CPU (built dist, plain node, in a pty)',
      '',
      '| case | median | × floor | p10–p90 |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
      `${rounds} rounds per row, interleaved.`,
      '',
      `| over ${wall.toFixed(0)} s, 4 services, ~20 lookups/s | CPU time | of one core |`,
      '|---|---:|---:|',
      `| top (utime + stime of its process) | ${cpuSeconds.toFixed(2)} s | ${((cpuSeconds / wall) * 100).toFixed(2)} % |`,
      '',
    ].join('\n'),
  );
} finally {
  const exited = new Promise((r) => manager.once('exit', r));
  manager.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
