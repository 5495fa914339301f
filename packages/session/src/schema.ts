// zod schemas of every file the package reads. A file that fails them is
// corrupt or foreign and is moved aside, never trusted.
import { z } from 'zod';
import type { ResourceRecord, SessionRecord } from './contract.js';

/** Resource kinds are lower-case words. */
export const RESOURCE_KIND = /^[a-z][a-z0-9._-]*$/;

const Metadata = z.record(z.string(), z.unknown());
// Session ids become object keys and file names: no '__proto__', no path separators.
const SessionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);

const ResourceRecordSchema = z.object({
  kind: z.string().regex(RESOURCE_KIND),
  id: z.string().min(1),
  zone: z.string().optional(),
  components: z.array(z.string()).optional(),
  pid: z.number().int().positive().optional(),
  processStartTime: z.string().optional(),
  metadata: Metadata.optional(),
  registeredAt: z.number().finite(),
  cleaningBy: z.string().optional(),
  cleaningSince: z.number().finite().optional(),
  claimed: z.boolean().optional(),
});

/** One session's record (registry entry and session file). */
export const SessionRecordSchema = z.object({
  sessionId: SessionId,
  pid: z.number().int().positive(),
  hostname: z.string(),
  hostId: z.string().optional(),
  processStartTime: z.string().nullable(),
  createdAt: z.number().finite(),
  registeredAt: z.number().finite(),
  heartbeatAt: z.number().finite().optional(),
  status: z.enum(['active', 'stale']),
  vmId: z.string().nullable(),
  zone: z.string().nullable(),
  components: z.array(z.string()),
  metadata: Metadata,
  resources: z.array(ResourceRecordSchema),
});

/** Who owns a claim or reaps (see `SessionOwner`). */
export const SessionOwnerSchema = z.object({
  sessionId: SessionId,
  pid: z.number().int().positive(),
  hostname: z.string(),
  hostId: z.string().nullable(),
  processStartTime: z.string().nullable(),
  createdAt: z.number().finite(),
  heartbeatAt: z.number().finite().optional(),
});

/** A claim file of the file store: `claims/<key>.json`. */
export const ClaimFileSchema = z.object({
  format: z.literal('core-session-claim'),
  kind: z.string().regex(RESOURCE_KIND),
  id: z.string().min(1),
  /** Unique per claim instance: a successor file `.<key>.next-<nonce>` holds the right to replace exactly this instance. */
  nonce: z.string().regex(/^[0-9a-f]{8,64}$/),
  holder: SessionOwnerSchema,
  claimedAt: z.number().finite(),
});

/** Claim file content. */
export type ClaimFile = z.infer<typeof ClaimFileSchema>;

/** The v1 shared registry file (imported once by the v2 file store). */
export const RegistryFileSchema = z
  .object({
    format: z.literal('core-session-registry'),
    version: z.literal(1),
    sessions: z.record(z.string(), SessionRecordSchema),
  })
  .refine((file) => Object.entries(file.sessions).every(([key, record]) => key === record.sessionId), {
    message: 'every session must be stored under its own sessionId',
  });

/** The per-session global tracker file: who this session is and where its files are. */
export const TrackerFileSchema = z.object({
  format: z.literal('core-session-tracker'),
  sessionId: SessionId,
  pid: z.number().int().positive(),
  hostname: z.string(),
  processStartTime: z.string().nullable(),
  createdAt: z.number().finite(),
  sessionFile: z.string(),
  registryFile: z.string(),
});

/** The per-process identity file that lets worker threads join the process's session. */
export const ProcessFileSchema = z.object({
  format: z.literal('core-session-process'),
  sessionId: SessionId,
  pid: z.number().int().positive(),
  hostname: z.string(),
  processStartTime: z.string().nullable(),
  createdAt: z.number().finite(),
});

/** Tracker file content. */
export type TrackerFile = z.infer<typeof TrackerFileSchema>;
/** Process identity file content. */
export type ProcessFile = z.infer<typeof ProcessFileSchema>;

/**
 * Parses JSON text (untrusted: a file, a Redis value) against a zod schema;
 * returns the value, or the reason it was refused (`not JSON: …`, or
 * `schema: <path>: <message>` for the first issue). Never throws. Stores of
 * other engines (e.g. `@core/session-redis`) read their values through it.
 */
export function parseWith<T>(
  schema: z.ZodType<T>,
  text: string,
): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return {
    ok: false,
    reason: `schema: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
  };
}

/** Parses a session record (typed as the public contract). */
export function toSessionRecord(value: z.infer<typeof SessionRecordSchema>): SessionRecord {
  return value as SessionRecord;
}

/** Narrowing helper for records read from the registry. */
export function toResourceRecord(value: z.infer<typeof ResourceRecordSchema>): ResourceRecord {
  return value as ResourceRecord;
}

/**
 * Parses one session record from JSON text with the registry's own schema,
 * for stores that keep records elsewhere (e.g. one Redis hash field per
 * session). Never throws: a corrupt or foreign value comes back with the reason.
 */
export function parseSessionRecord(
  text: string,
): { readonly ok: true; readonly value: SessionRecord } | { readonly ok: false; readonly reason: string } {
  const parsed = parseWith(SessionRecordSchema, text);
  return parsed.ok ? { ok: true, value: toSessionRecord(parsed.value) } : parsed;
}
