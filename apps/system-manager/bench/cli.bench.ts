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

const healthyMs: number[] = [];
await runBenchTable({
  title: 'system-manager — CLI wall time (built dist, plain node)',
  cases: [
    { name: 'node -e ""', floor: true, fn: () => runNode(['-e', '']), rounds: 15 },
    { name: 'system-manager --help', fn: () => runNode([cli, '--help']), rounds: 15 },
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
      label: '--help under 2× `node -e ""`',
      check: (r) => {
        const ratio = r.get('system-manager --help')!.nsPerOp / r.get('node -e ""')!.nsPerOp;
        return { ok: ratio < 2, measured: `${ratio.toFixed(2)}×` };
      },
    },
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
