// Wall-clock benchmarks of the built CLI as users run it (dist/, plain node).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNs, runBenchTable } from '@tooling/bench';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore', env });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sessionDir = mkdtempSync(path.join(os.tmpdir(), 'sm-bench-'));

function time(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const began = performance.now();
  return runNode(args, env).then(() => performance.now() - began);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] ?? Number.NaN;

/**
 * The read-only commands against `node -e ""`, interleaved: every round runs
 * each case once in a shuffled order, so a busy moment of this shared machine
 * hits all rows alike instead of one row's whole batch.
 */
async function readOnlyCommands(): Promise<void> {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'sm-bench-empty-'));
  // An empty machine: no session directory, no config file anywhere.
  const emptyEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CORE_SESSION_DIR: path.join(empty, 'sessions'),
    XDG_CONFIG_HOME: empty,
  };
  delete emptyEnv['SYSTEM_MANAGER_CONFIG'];
  delete emptyEnv['CORE_SESSION_REDIS_URL'];
  // One live manager (default config) for the "with a manager" rows.
  const liveEnv: NodeJS.ProcessEnv = { ...emptyEnv, CORE_SESSION_DIR: path.join(empty, 'live-sessions') };
  for (const name of ['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'event_ui', 'control'])
    liveEnv[`SYSTEM_MANAGER_PORT_${name.toUpperCase()}`] = String(await freePort());
  const manager = spawn(process.execPath, [cli, 'start'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: liveEnv,
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    manager.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('"all services healthy"')) resolve();
    });
    manager.once('exit', (code) => reject(new Error(`start exited ${code}: ${err}`)));
  });
  const cases: { name: string; args: string[]; env: NodeJS.ProcessEnv }[] = [
    { name: 'node -e "" (floor)', args: ['-e', ''], env: emptyEnv },
    { name: 'system-manager --help', args: [cli, '--help'], env: emptyEnv },
    { name: 'system-manager status --json (empty machine)', args: [cli, 'status', '--json'], env: emptyEnv },
    { name: 'system-manager ports (empty machine)', args: [cli, 'ports'], env: emptyEnv },
    {
      name: 'system-manager status --json (one live manager)',
      args: [cli, 'status', '--json'],
      env: liveEnv,
    },
    { name: 'system-manager ports (one live manager)', args: [cli, 'ports'], env: liveEnv },
  ];
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]));
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 25);
  try {
    for (let r = 0; r < rounds + 2; r++) {
      const order = [...cases].sort(() => Math.random() - 0.5);
      for (const c of order) {
        const ms = await time(c.args, c.env);
        if (r >= 2) samples.get(c.name)?.push(ms); // two warm-up rounds (page cache)
      }
    }
  } finally {
    const exited = new Promise((resolve) => manager.once('exit', resolve));
    manager.kill('SIGTERM');
    await exited;
    rmSync(empty, { recursive: true, force: true });
  }
  const floor = median(samples.get('node -e "" (floor)') ?? []);
  const ratio = (name: string) => median(samples.get(name) ?? []) / floor;
  const lines = [
    '### system-manager — read-only commands, interleaved with `node -e ""` (built dist, plain node)',
    '',
    `| case | median | × floor | p10–p90 |`,
    '|---|---:|---:|---:|',
    ...cases.map((c) => {
      const xs = samples.get(c.name) ?? [];
      return `| ${c.name} | ${median(xs).toFixed(1)} ms | ${ratio(c.name).toFixed(2)} | ${pct(xs, 0.1).toFixed(1)}–${pct(xs, 0.9).toFixed(1)} ms |`;
    }),
    '',
    '| goal | measured | met |',
    '|---|---|:---:|',
    ...[
      ['`--help` ≤ 1.2× `node -e ""`', 'system-manager --help', 1.2],
      ['`status` ≤ 1.5× `node -e ""` (empty machine)', 'system-manager status --json (empty machine)', 1.5],
      ['`ports` ≤ 1.5× `node -e ""` (empty machine)', 'system-manager ports (empty machine)', 1.5],
      [
        '`status` ≤ 1.5× `node -e ""` (one live manager)',
        'system-manager status --json (one live manager)',
        1.5,
      ],
      ['`ports` ≤ 1.5× `node -e ""` (one live manager)', 'system-manager ports (one live manager)', 1.5],
    ].map(
      ([label, name, goal]) =>
        `| ${label} | ${ratio(name as string).toFixed(2)}× | ${ratio(name as string) <= (goal as number) ? 'yes' : 'no'} |`,
    ),
    '',
    `${rounds} rounds per row.`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Spawns `start` with the default config and resolves when it logs "all services healthy"; then stops it. */
async function startToHealthy(): Promise<number> {
  const began = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, CORE_SESSION_DIR: sessionDir, LOG_LEVEL: 'info' };
  for (const name of ['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'event_ui', 'control']) {
    env[`SYSTEM_MANAGER_PORT_${name.toUpperCase()}`] = String(await freePort());
  }
  const child = spawn(process.execPath, [cli, 'start'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('"all services healthy"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`start exited ${code}: ${err}`)));
  });
  const healthyAfter = performance.now() - began;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return healthyAfter;
}

await readOnlyCommands();

const healthyMs: number[] = [];
await runBenchTable({
  title: 'system-manager — CLI wall time (built dist, plain node)',
  cases: [
    { name: 'node -e ""', floor: true, fn: () => runNode(['-e', '']), rounds: 15 },
    {
      name: 'system-manager start → all healthy → SIGTERM → exit (default config)',
      rounds: 8,
      fn: async () => {
        healthyMs.push(await startToHealthy());
      },
    },
  ],
  goals: [
    {
      label:
        '`start` to all-healthy under 1 s (median of every run above, spawn to the "all services healthy" line)',
      check: () => {
        const sorted = [...healthyMs].sort((a, b) => a - b);
        const ms = sorted[sorted.length >> 1] ?? Number.NaN;
        return { ok: ms < 1000, measured: `${formatNs(ms * 1e6)} (n=${sorted.length})` };
      },
    },
  ],
});
rmSync(sessionDir, { recursive: true, force: true });
