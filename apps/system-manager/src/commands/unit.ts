import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandOptions } from '../commands.js';
import { loadConfigWithSource, portableExecArgv } from '../config.js';
import { parseHardening } from '../unit/hardening.js';
import { renderUnit, UnitError } from '../unit/unit-file.js';
import { print, warnLine } from './output.js';

/** The primary group of a user (`id -gn`), or a UnitError when there is no such user. */
function primaryGroup(user: string): string {
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(user))
    throw new UnitError(`--user: not a user name: ${JSON.stringify(user)}`);
  try {
    // "--" ends id's options: the name can never be read as one.
    return execFileSync('id', ['-gn', '--', user], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (error) {
    throw new UnitError(
      `--user ${user}: no such user on this machine (${String((error as { stderr?: unknown }).stderr ?? '').trim()})`,
      [`create it first, e.g. sudo useradd --system --create-home ${user}`],
    );
  }
}

/** The CLI script of this install (src/cli.ts when run from source, dist/cli.js when installed). */
export function thisCliPath(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), '..', `cli${path.extname(here)}`);
}

/** `system-manager unit`: prints the systemd unit (warnings, e.g. about left-out secrets or User=root, go to stderr). */
export async function unitCommand(options: CommandOptions): Promise<number> {
  // The flags first: a typo in --set is reported before anything is looked up.
  const hardening = parseHardening({ noHardening: options.noHardening, set: options.set });
  const { config, source } = loadConfigWithSource({ flag: options.config });
  const user = options.user ?? os.userInfo().username;
  const group = options.group ?? primaryGroup(user);
  if (options.group !== undefined) primaryGroup(user); // the user must exist either way
  const { text, warnings } = renderUnit({
    config,
    configFile: source.file,
    user,
    group,
    env: process.env,
    nodePath: process.execPath,
    cliPath: thisCliPath(),
    execArgv: portableExecArgv(process.execArgv),
    hardening,
    allowTemporaryPaths: options.allowTempPaths === true,
  });
  for (const w of warnings) warnLine(w);
  print(text);
  return 0;
}
