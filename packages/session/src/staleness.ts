import type { SessionRecord } from './contract.js';
import { isProcessAlive } from './process.js';

/** How a session looks from this machine. */
export type SessionLiveness = 'live' | 'stale' | 'remote';

/** When a session last showed it is alive: its creation or its latest heartbeat. */
export function lastSignOfLife(record: Pick<SessionRecord, 'createdAt' | 'heartbeatAt'>): number {
  return Math.max(record.createdAt, record.heartbeatAt ?? record.createdAt);
}

/**
 * Judges a session record: `stale` when older than the age limit (counted
 * from its last heartbeat, see {@link lastSignOfLife}), or (on this
 * host) when its pid is gone or now belongs to another process (start time
 * differs); `remote` when it belongs to another host and is not too old (its
 * pid means nothing here, so it is left alone); else `live`.
 */
export function judgeSession(
  record: Pick<SessionRecord, 'pid' | 'hostname' | 'processStartTime' | 'createdAt' | 'heartbeatAt'>,
  context: { readonly now: number; readonly maxAgeMs: number; readonly hostname: string },
): SessionLiveness {
  if (context.now - lastSignOfLife(record) > context.maxAgeMs) return 'stale';
  if (record.hostname !== context.hostname) return 'remote';
  return isProcessAlive(record.pid, record.processStartTime) ? 'live' : 'stale';
}
