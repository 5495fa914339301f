// Shared by the operator-command suites: real managers in private session
// directories, every process they start killed in afterEach.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { killTagged, portEnv, type Running, run, tempDir } from './helpers.js';

/** Run after each test, last first. */
export const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // A manager SIGKILLed above leaves its services running (orphans, on purpose
  // in some tests): end every process this file's tests started.
  await killTagged();
});

/** Runs a CLI command to completion; killed in afterEach if a failing test leaves it running. */
export async function runToEnd(args: string[], env: Record<string, string>) {
  const r = run(args, env);
  cleanups.push(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  });
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

/** A temp dir removed after the test. */
export function scratch() {
  const tmp = tempDir('sm-operator-');
  cleanups.push(tmp.remove);
  return tmp.dir;
}

/** A config with the example service and a private session dir; `start()` resolves once it is healthy. */
export function setup() {
  const dir = scratch();
  const sessionDir = path.join(dir, 'sessions');
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      services: [
        {
          name: 'cache-service',
          command: '{node}',
          args: ['{builtin:example/cache-service}'],
          port: 'main_api',
        },
      ],
      shutdown: { graceMs: 2000 },
    }),
  );
  const env = { CORE_SESSION_DIR: sessionDir, SYSTEM_MANAGER_CONFIG: configFile };
  const started: Running[] = [];
  cleanups.push(async () => {
    for (const r of started) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGCONT');
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });
  return {
    dir,
    env,
    sessionDir,
    configFile,
    start: async (extraEnv: Record<string, string> = {}) => {
      const ports = await portEnv();
      const r = run(['start'], { ...env, ...ports, ...extraEnv });
      started.push(r);
      await r.waitForLog((e) => e['msg'] === 'all services healthy');
      return { r, ports, control: Number(ports['SYSTEM_MANAGER_PORT_CONTROL']) };
    },
  };
}

/** The part of `status --json` the suites read. */
export interface Doc {
  sessions: {
    sessionId: string;
    pid: number;
    liveness: string;
    answered: boolean;
    services: Record<string, unknown>[];
    orphans: { service: string; pid: number; port: number; running: boolean }[];
  }[];
  hint: string | null;
}

/** `status --json`, asserting exit 0. */
export async function statusJson(env: Record<string, string>, args: string[] = []): Promise<Doc> {
  const { code, stdout, stderr } = await runToEnd(['status', '--json', ...args], env);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Doc;
}
