// What read-only commands need to find the sessions: the Redis store (only
// when a URL is set — ioredis is loaded then, and the config with its full
// zod schema). The config file in force is only peeked at for a Redis URL,
// so with a file registry nothing heavy loads, with or without a config file.
import { readFileSync } from 'node:fs';
import type { CommandOptions, LazyLogger } from '../commands.js';
import type { SystemManagerConfig } from '../config.js';
import { discoverConfig } from '../config-discovery.js';
import { SYSTEM_SESSION_DIR } from '../unit/unit-file.js';
import { warnLine } from './output.js';
import {
  allUsersSessionDirs,
  defaultSessionDir,
  type ListableStore,
  type ListSessionsOptions,
  listSessions,
  type SessionListing,
} from './sessions-source.js';

/** Where the listed sessions came from. */
export interface RegistryLocation {
  readonly kind: 'file' | 'redis';
  readonly locations: readonly string[];
}

/** Sessions as the read-only commands see them, and where they were read. */
export interface SessionView {
  readonly registry: RegistryLocation;
  readonly listings: readonly (SessionListing & { readonly sessionDir: string | null })[];
}

/** The validated config when a file is in force, else null (the built-in one has no Redis URL and no session settings). */
export async function configIfAny(options: CommandOptions): Promise<SystemManagerConfig | null> {
  const source = discoverConfig({ flag: options.config });
  if (source.file === null) return null;
  const { loadConfigWithSource } = await import('../config.js');
  return loadConfigWithSource({ flag: options.config }).config;
}

/**
 * What the config file in force says about the registry, read without the
 * config schema: `none` (no file: the built-in config), `file` (no
 * `session.redisUrl`), `redis`, or `unsure` (unreadable, not JSON, or a
 * `redisUrl` that is not a string). Only `redis` and `unsure` need the full
 * config — and validating it stays config.ts's job, so an `unsure` file gets
 * exactly the error `start` and `config check` give.
 */
export function peekRegistry(options: CommandOptions): 'none' | 'file' | 'redis' | 'unsure' {
  const { file } = discoverConfig({ flag: options.config });
  if (file === null) return 'none';
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 'unsure';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'unsure';
  const session = (json as Record<string, unknown>)['session'];
  if (session === undefined) return 'file';
  if (typeof session !== 'object' || session === null || Array.isArray(session)) return 'unsure';
  const url = (session as Record<string, unknown>)['redisUrl'];
  if (url === undefined) return 'file';
  return typeof url === 'string' ? 'redis' : 'unsure';
}

/** Lists the sessions the options select: this user's directory, every user's (`--all-users`), or the fleet's Redis registry. */
export async function readSessions(options: CommandOptions, log: LazyLogger): Promise<SessionView> {
  const envUrl = process.env['CORE_SESSION_REDIS_URL'];
  const fromEnv = envUrl !== undefined && envUrl !== '';
  const peeked = peekRegistry(options);
  const config = fromEnv || peeked === 'redis' || peeked === 'unsure' ? await configIfAny(options) : null;
  const redisUrl = fromEnv ? envUrl : config?.session.redisUrl;
  const warn = (message: string) => warnLine(message);
  if (redisUrl !== undefined) {
    const { createSessionStore } = await import('../session-store.js');
    const { parseConfig } = await import('../config.js');
    const store = createSessionStore(
      config ?? parseConfig({}),
      process.env,
      log.get(),
      // A look, not a run: report the registry down after 3 s instead of 10.
      { unavailableTimeoutMs: 3000 },
    ) as unknown as ListableStore & {
      close(): Promise<void>;
    };
    try {
      const listings = await listSessions({ store, warn });
      return {
        registry: { kind: 'redis', locations: [store.location] },
        listings: listings.map((l) => ({ ...l, sessionDir: null })),
      };
    } finally {
      await store.close();
    }
  }
  const dirs = options.allUsers
    ? allUsersSessionDirs([SYSTEM_SESSION_DIR, defaultSessionDir()])
    : [defaultSessionDir()];
  const listings: SessionView['listings'][number][] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    // Every location is listed as itself with --all-users (earlier ones included): none is listed twice.
    const listOptions: ListSessionsOptions = {
      dir,
      warn,
      anyOwner: options.allUsers === true,
      ...(options.allUsers ? { importFrom: [] } : {}),
    };
    for (const l of await listSessions(listOptions)) {
      if (seen.has(l.record.sessionId)) continue;
      seen.add(l.record.sessionId);
      listings.push({ ...l, sessionDir: dir });
    }
  }
  return { registry: { kind: 'file', locations: dirs }, listings };
}
