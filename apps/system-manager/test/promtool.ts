import { spawnSync } from 'node:child_process';

/**
 * `promtool check metrics` (Debian package `prometheus`) on an exposition:
 * the real Prometheus parser and linter. Exit 0 and no output means the text
 * parses and has no lint problem (HELP, TYPE, counter suffixes, label names).
 */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], {
    input: text,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * Whether promtool is installed. Where it is not, the suites that need it skip
 * with a message — except under CI=true, where a missing promtool fails the
 * run (.ci/run installs it) instead of letting CI pass without the check.
 */
export function hasPromtool(): boolean {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!found && process.env.CI === 'true') {
    throw new Error(
      'promtool is not installed but CI=true: install Debian package "prometheus" (see .ci/run)',
    );
  }
  if (!found)
    console.warn('promtool not found: skipping `promtool check metrics` (apt-get install prometheus)');
  return found;
}
