// Which config file a run uses. Kept free of zod (and of everything heavy) so
// read-only commands can find out whether there is a file to validate at all
// before paying for the schema.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Env var naming the config file when `--config` is not given. */
export const CONFIG_ENV = 'SYSTEM_MANAGER_CONFIG';
/** The config file of a system-wide (root) install. */
export const SYSTEM_CONFIG_FILE = '/etc/system-manager/config.json';

/** Where the config in force came from. */
export type ConfigOrigin = 'flag' | 'env' | 'system' | 'user' | 'builtin';

/** The config file a run uses (null: the built-in example config). */
export interface ConfigSource {
  readonly origin: ConfigOrigin;
  /** Absolute path, or null for the built-in config. */
  readonly file: string | null;
  /** One line for the log and `config check`: which file, and why that one. */
  readonly description: string;
}

/** Inputs of the discovery; each defaults to this process's. */
export interface ConfigDiscovery {
  /** `--config <file>` (relative to the current directory). */
  readonly flag?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Effective uid (0 looks in /etc). */
  readonly uid?: number | undefined;
  readonly home?: string | undefined;
  /** The /etc file (for tests). */
  readonly systemFile?: string | undefined;
}

/** The per-user config file: `$XDG_CONFIG_HOME/system-manager/config.json`, default `~/.config/…`. */
export function userConfigFile(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env['XDG_CONFIG_HOME'];
  // The XDG spec says a relative $XDG_CONFIG_HOME is invalid and must be ignored.
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  return path.join(base, 'system-manager', 'config.json');
}

/**
 * Finds the config file: `--config`, else `$SYSTEM_MANAGER_CONFIG`, else
 * `/etc/system-manager/config.json` for root or the XDG user file for anyone
 * else (when it exists), else the built-in example config. A file named by
 * the flag or the env must exist (that is checked when it is read); the
 * default locations are only used when present.
 */
export function discoverConfig(options: ConfigDiscovery = {}): ConfigSource {
  const env = options.env ?? process.env;
  if (options.flag !== undefined) {
    const file = path.resolve(options.flag);
    return { origin: 'flag', file, description: `${file} (--config)` };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const file = path.resolve(fromEnv);
    return { origin: 'env', file, description: `${file} ($${CONFIG_ENV})` };
  }
  const uid = options.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  if (uid === 0) {
    const file = options.systemFile ?? SYSTEM_CONFIG_FILE;
    if (existsSync(file)) return { origin: 'system', file, description: `${file} (system config)` };
  } else {
    const file = userConfigFile(env, options.home ?? os.homedir());
    if (existsSync(file)) return { origin: 'user', file, description: `${file} (user config)` };
  }
  return {
    origin: 'builtin',
    file: null,
    description: `built-in example config (no --config, no $${CONFIG_ENV}, no ${uid === 0 ? (options.systemFile ?? SYSTEM_CONFIG_FILE) : userConfigFile(env, options.home ?? os.homedir())})`,
  };
}
