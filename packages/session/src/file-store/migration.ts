// One-time import of a v1 `registry.json` (one shared file of every session)
// into v2 records, so an upgrade loses no ownership. The file is renamed
// first (only one process wins), imported with exclusive creates (never over a
// record its owner wrote), then kept aside as `registry.json.v1-imported-<ms>`.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { HostIdentity, SessionLogger, SessionRecord } from '../contract.js';
import { createExclusiveFileSync, entryExistsSync, readPrivateFileSync } from '../files.js';
import { parseWith, RegistryFileSchema, toSessionRecord } from '../schema.js';
import { claimName, recordName, type StoreLayout } from './layout.js';
import { moveAside, serializeRecord } from './records.js';

const LEGACY = 'registry.json';
const IMPORTING = 'registry.json.v1-importing';

/** Reads a v1 registry's sessions without changing anything (for the read-only listing). */
export function readLegacySessions(dir: string): SessionRecord[] {
  for (const name of [LEGACY, IMPORTING]) {
    const read = readPrivateFileSync(join(dir, name));
    if (read.kind !== 'ok') continue;
    const parsed = parseWith(RegistryFileSchema, read.text);
    if (parsed.ok) return Object.values(parsed.value.sessions).map(toSessionRecord);
  }
  return [];
}

/**
 * Imports `registry.json` when present. @returns how many sessions were imported.
 * @throws SessionWriteError when a record could not be written (the file stays to import next time).
 */
export function importLegacyRegistry(
  layout: StoreLayout,
  host: HostIdentity,
  hostScoped: (kind: string) => boolean,
  logger: SessionLogger,
): number {
  const legacy = join(layout.dir, LEGACY);
  const importing = join(layout.dir, IMPORTING);
  if (!entryExistsSync(legacy) && !entryExistsSync(importing)) return 0;
  try {
    renameSync(legacy, importing);
  } catch (error) {
    // ENOENT: another process is importing it (or did); importing again is harmless (exclusive creates).
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const read = readPrivateFileSync(importing);
  if (read.kind !== 'ok') return 0;
  const parsed = parseWith(RegistryFileSchema, read.text);
  if (!parsed.ok) {
    moveAside(importing, logger, parsed.reason);
    return 0;
  }
  let imported = 0;
  for (const v1 of Object.values(parsed.value.sessions)) {
    // A v1 registry lives in this machine's private directory: a session with this
    // hostname ran here, so it gets this host identity and its pid is checked.
    const record: SessionRecord = {
      ...toSessionRecord(v1),
      ...(v1.hostname === host.hostname ? { hostId: host.id } : {}),
    };
    const hostId = record.hostId ?? null;
    const resources = record.resources.map((resource) => {
      if (resource.kind !== 'port') return resource;
      const claim = {
        format: 'core-session-claim',
        kind: resource.kind,
        id: resource.id,
        nonce: `${Date.now().toString(16)}${imported.toString(16).padStart(8, '0')}`,
        holder: {
          sessionId: record.sessionId,
          pid: record.pid,
          hostname: record.hostname,
          hostId,
          processStartTime: record.processStartTime,
          createdAt: record.createdAt,
        },
        claimedAt: resource.registeredAt,
      };
      const name = claimName(resource.kind, resource.id, hostScoped(resource.kind) ? hostId : null);
      createExclusiveFileSync(join(layout.claimsDir, name), `${JSON.stringify(claim)}\n`);
      return { ...resource, claimed: true };
    });
    if (
      createExclusiveFileSync(
        join(layout.sessionsDir, recordName(record.sessionId)),
        serializeRecord({ ...record, resources }),
        { fsync: true },
      )
    )
      imported++;
  }
  try {
    renameSync(importing, join(layout.dir, `registry.json.v1-imported-${Date.now()}`));
  } catch {
    // another importer renamed it
  }
  logger.info?.(
    { imported, file: legacy },
    `imported ${imported} session(s) from the v1 registry ${legacy}; kept it aside`,
  );
  return imported;
}
