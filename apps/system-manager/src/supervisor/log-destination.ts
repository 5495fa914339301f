import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SystemManagerConfig } from '../config.js';
import { ConfigError } from '../errors.js';

/**
 * The program that writes a service's log files in a process of its own:
 * skarnet's s6-log (Debian package `s6`), or null when it is not on PATH and
 * the manager writes them itself.
 */
export interface LogWriterProgram {
  readonly name: 's6-log';
  readonly path: string;
}

/** How to get the writer program where it is missing. */
export const LOG_WRITER_INSTALL_HINT = 'apt-get install s6 (it puts s6-log on PATH)';

/** Where the services' output goes; see {@link resolveLogDestination}. */
export type LogDestination =
  | { readonly kind: 'file'; readonly dir: string; readonly writer: LogWriterProgram | null }
  | { readonly kind: 'journald'; readonly socket: string }
  | { readonly kind: 'manager' };

function isSocket(file: string): boolean {
  try {
    return statSync(file).isSocket();
  } catch {
    return false;
  }
}

/**
 * The directory of the services' log files: `logs.dir`, else `logs/` in the
 * state directory — systemd's `$STATE_DIRECTORY` (the unit's
 * `StateDirectory=`), else `$XDG_STATE_HOME/system-manager`, else
 * `~/.local/state/system-manager`.
 */
export function logDirectory(config: SystemManagerConfig['logs'], env: NodeJS.ProcessEnv): string {
  if (config.dir !== undefined) return path.resolve(config.dir);
  // systemd may list several directories, separated by ':'; the first is ours.
  const state = env['STATE_DIRECTORY']?.split(':')[0];
  if (state) return path.join(state, 'logs');
  const xdg = env['XDG_STATE_HOME'];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'system-manager', 'logs');
}

/**
 * Resolves `logs.destination`. `auto` is journald when the manager's own
 * output goes to the journal (systemd sets `$JOURNAL_STREAM`) and its stdout
 * socket is there, else a file per service. An explicit `journald` without
 * the socket is a config error: the output would have nowhere to go.
 */
export function resolveLogDestination(
  config: SystemManagerConfig['logs'],
  env: NodeJS.ProcessEnv,
): LogDestination {
  const journal = config.journalSocket;
  switch (config.destination) {
    case 'manager':
      return { kind: 'manager' };
    case 'file':
      return { kind: 'file', dir: logDirectory(config, env), writer: findLogWriter(env) };
    case 'journald':
      if (!isSocket(journal))
        throw new ConfigError(
          'E_CONFIG_INVALID',
          `logs.destination is "journald" but ${journal} is not a socket (is systemd-journald running?); use "file" or "auto"`,
          { details: [`logs.destination: ${journal} is not a socket`] },
        );
      return { kind: 'journald', socket: journal };
    default:
      return env['JOURNAL_STREAM'] && isSocket(journal)
        ? { kind: 'journald', socket: journal }
        : { kind: 'file', dir: logDirectory(config, env), writer: findLogWriter(env) };
  }
}

/** `s6-log` in a directory of `$PATH` (absolute entries only: a relative one would depend on the working directory). */
export function findLogWriter(env: NodeJS.ProcessEnv): LogWriterProgram | null {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, 's6-log');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return { name: 's6-log', path: candidate };
    } catch {
      // not here
    }
  }
  return null;
}
