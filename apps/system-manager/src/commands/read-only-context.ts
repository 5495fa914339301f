// What read-only commands need to find the sessions: the config (only when a
// file is in force — zod is loaded then) and the Redis store (only when a URL
// is set — ioredis is loaded then). On a machine with neither, nothing heavy loads.
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

/** Lists the sessions the options select: this user's directory, every user's (`--all-users`), or the fleet's Redis registry. */
export async function readSessions(options: CommandOptions, log: LazyLogger): Promise<SessionView> {
  const config = await configIfAny(options);
  const envUrl = process.env['CORE_SESSION_REDIS_URL'];
  const redisUrl = envUrl !== undefined && envUrl !== '' ? envUrl : config?.session.redisUrl;
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
  for (const dir of dirs) {
    const listOptions: ListSessionsOptions = { dir, warn, anyOwner: options.allUsers === true };
    for (const l of await listSessions(listOptions)) listings.push({ ...l, sessionDir: dir });
  }
  return { registry: { kind: 'file', locations: dirs }, listings };
}
