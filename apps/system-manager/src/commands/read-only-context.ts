// What read-only commands need to find the sessions: the Redis or etcd store
// (only when a URL or endpoints are set — ioredis or etcd3 is loaded then,
// and the config with its full zod schema). The config file in force is only
// peeked at for a fleet registry, so with a file registry nothing heavy
// loads, with or without a config file.
import { readFileSync } from 'node:fs';
import type { CommandOptions, LazyLogger } from '../commands.js';
import type { SystemManagerConfig } from '../config.js';
import { discoverConfig } from '../config-discovery.js';
import { SYSTEM_SESSION_DIR } from '../unit/unit-file.js';
import { warnLine } from './output.js';
import {
  allUsersSessionDirs,
  defaultSessionDir,
  type ListSessionsOptions,
  listSessions,
  type SessionListing,
} from './sessions-source.js';

/** Where the listed sessions came from. */
export interface RegistryLocation {
  readonly kind: 'file' | 'redis' | 'etcd';
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
 * config schema: `none` (no file: the built-in config), `file` (neither
 * `session.redisUrl` nor `session.etcd`), `fleet` (one of them), or `unsure`
 * (unreadable, not JSON, or a `session` that is not an object). Only `fleet`
 * and `unsure` need the full config — and validating it stays config.ts's
 * job, so an `unsure` file gets exactly the error `start` and `config check` give.
 */
export function peekRegistry(options: CommandOptions): 'none' | 'file' | 'fleet' | 'unsure' {
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
  const { redisUrl, etcd } = session as Record<string, unknown>;
  if (redisUrl === undefined && etcd === undefined) return 'file';
  return 'fleet';
}

/** Whether the env names the etcd registry (its endpoints). */
function etcdFromEnv(env: NodeJS.ProcessEnv): boolean {
  const etcd = env['CORE_SESSION_ETCD_ENDPOINTS'];
  return etcd !== undefined && etcd.trim() !== '';
}

/** Whether the env names a fleet registry (Redis URL or etcd endpoints). */
function fleetFromEnv(env: NodeJS.ProcessEnv): boolean {
  const redis = env['CORE_SESSION_REDIS_URL'];
  return (redis !== undefined && redis !== '') || etcdFromEnv(env);
}

/** Lists the sessions the options select: this user's directory, every user's (`--all-users`), or the fleet's Redis or etcd registry. */
export async function readSessions(options: CommandOptions, log: LazyLogger): Promise<SessionView> {
  const fromEnv = fleetFromEnv(process.env);
  const peeked = peekRegistry(options);
  const config = fromEnv || peeked === 'fleet' || peeked === 'unsure' ? await configIfAny(options) : null;
  const warn = (message: string) => warnLine(message);
  if (fromEnv || config?.session.redisUrl !== undefined || config?.session.etcd !== undefined) {
    const [{ createSessionStore }, { parseConfig }] = await Promise.all([
      import('../session-store.js'),
      import('../config.js'),
    ]);
    const store = createSessionStore(
      config ?? parseConfig({}),
      process.env,
      log.get(),
      // A look, not a run: report the registry down after 3 s instead of 10.
      { unavailableTimeoutMs: 3000 },
    );
    if (store !== undefined) {
      try {
        const listings = await listSessions({ store, warn });
        return {
          // createSessionStore refuses a config naming both, so etcd named anywhere means etcd.
          registry: {
            kind: etcdFromEnv(process.env) || config?.session.etcd !== undefined ? 'etcd' : 'redis',
            locations: [store.location],
          },
          listings: listings.map((l) => ({ ...l, sessionDir: null })),
        };
      } finally {
        await store.close();
      }
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
