// One-time import of a v1 store: v1 kept every session in one fleet-wide
// hash (`<v1 prefix>sessions`, values "v1 <leaseId> <record JSON>") under one
// version key. The first v2 manager to connect copies each record that has
// no v2 record yet (with its v1 lease's remaining time, so live sessions stay
// live until their lease runs out), sets a marker, and leaves the v1 keys in
// place for inspection: an upgrade loses no ownership. Client-side, record by
// record: v1 keys carry no hash tag, so no script may touch them and v2 keys at once.
import { randomUUID } from 'node:crypto';
import type { SessionLogger } from '@core/session';
import { parseSessionRecord } from '@core/session/store';
import { ReplyError } from 'ioredis';
import { serializeRecord } from './codec.js';
import type { Connection } from './connection.js';
import type { KeyLayout } from './keys.js';
import type { EntrySigner } from './signing.js';

/** What the import needs from the store. */
export interface MigrationContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly logger: SessionLogger;
  readonly location: string;
  readonly epoch: () => Promise<string>;
  readonly warnCorrupt: (key: string, reason: string) => void;
  /** Signs the imported records (null without a fleet key). */
  readonly signer: EntrySigner | null;
}

/** Marker key: set once the v1 store under `legacyPrefix` was imported. */
export function importMarker(keys: KeyLayout): string {
  return `${keys.prefix}imported-v1`;
}

/**
 * Imports the v1 store under `legacyPrefix` once per fleet.
 * @returns how many records were imported (0 when there was nothing, or it was done before).
 */
export async function importV1(context: MigrationContext, legacyPrefix: string): Promise<number> {
  const { connection, keys } = context;
  const marker = importMarker(keys);
  const legacyHash = `${legacyPrefix}sessions`;
  const entries = await connection.call(async () => {
    if ((await connection.redis.exists(marker)) === 1) return {};
    try {
      return await connection.redis.hgetall(legacyHash);
    } catch (error) {
      if (!(error instanceof ReplyError)) throw error;
      context.warnCorrupt(legacyHash, (error as Error).message); // not a hash: nothing we can import
      return {};
    }
  });
  const ids = Object.keys(entries);
  if (ids.length === 0) return 0;
  const epoch = await context.epoch();
  let imported = 0;
  for (const id of ids) {
    const match = /^v1 (\S+) ([\s\S]*)$/.exec(entries[id] ?? '');
    const record = match ? parseSessionRecord(match[2] as string) : null;
    if (!match || !record?.ok || record.value.sessionId !== id) {
      context.warnCorrupt(`${legacyHash} ${id}`, record && !record.ok ? record.reason : 'not a v1 entry');
      continue;
    }
    const legacyLease = `${legacyPrefix}lease:${id}`;
    const [lease, remaining] = await connection.call(() =>
      Promise.all([connection.redis.get(legacyLease), connection.redis.pttl(legacyLease)]),
    );
    const reply = (await connection.call(() =>
      connection.script(
        'coreImportV1',
        [keys.epoch, keys.record(id), keys.sessions, keys.lease(id)],
        [
          epoch,
          serializeRecord(record.value, { key: keys.record(id), signer: context.signer }),
          randomUUID(),
          id,
          lease ?? '',
          Math.max(0, remaining),
        ],
      ),
    )) as [string, ...string[]];
    if (reply[0] === 'ok') imported++;
    else if (reply[0] === 'epoch') return imported; // the dataset changed under us: the next connect tries again
  }
  await connection.call(() => connection.redis.set(marker, String(Date.now()), 'NX'));
  context.logger.info?.(
    { location: context.location, imported, legacyKey: legacyHash },
    `session store ${context.location}: imported ${imported} session(s) from the v1 store ${legacyHash} (left in place)`,
  );
  return imported;
}
