// What the fleet tests read back from the processes they start: a child's
// first JSON line, the argv a cleanup script recorded, and doctor's verdict
// on the session store.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runToEnd } from './helpers.js';

/** The JSON lines a cleanup script recorded (its argv each). */
export function recordedCalls(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as string[]);
}

/** The first stdout line of `child` as JSON; rejects when it exits first or stays silent for `timeoutMs`. */
export function firstLine(child: ChildProcess, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`no line within ${timeoutMs} ms; stderr:\n${err}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, newline)) as Record<string, unknown>);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before its first line; stderr:\n${err}`));
    });
  });
}

/** The `session store` check of `doctor --json`. */
export async function storeCheck(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: string; message: string; fix?: string }> {
  const { stdout, stderr } = await runToEnd(args, env);
  const doc = JSON.parse(stdout || '{}') as { checks?: { check: string; status: string; message: string }[] };
  const found = doc.checks?.find((c) => c.check === 'session store');
  if (found === undefined) throw new Error(`doctor printed no session store check; stderr:\n${stderr}`);
  return found;
}
