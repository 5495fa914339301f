// zod schemas of every file the package reads. A file that fails them is
// corrupt or foreign and is moved aside, never trusted.
import * as z from 'zod/mini';
import type { $ZodType } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';
import type { ResourceRecord, SessionRecord } from './contract.js';

// Written with zod/mini (the same engine, functions instead of methods) so a
// bundler keeps only what these schemas use (the app's read-only commands).
// zod/mini loads no locale — its messages would all be "Invalid input" — so
// use English unless the process chose a locale already, as full zod does.
if (!z.config().localeError) z.config(en());

/** Resource kinds are lower-case words. */
export const RESOURCE_KIND = /^[a-z][a-z0-9._-]*$/;

const Metadata = z.record(z.string(), z.unknown());
// Session ids become object keys and file names: no '__proto__', no path separators.
const SessionId = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/));

const Pid = z.int().check(z.positive());
// A digest written by `readHostIdentity` (hex); anything else is not ours.
const StableHostId = z.string().check(z.regex(/^[0-9a-f]{32}$/));

const ResourceRecordSchema = z.object({
  kind: z.string().check(z.regex(RESOURCE_KIND)),
  id: z.string().check(z.minLength(1)),
  zone: z.optional(z.string()),
  components: z.optional(z.array(z.string())),
  pid: z.optional(Pid),
  processStartTime: z.optional(z.string()),
  metadata: z.optional(Metadata),
  registeredAt: z.number(),
  cleaningBy: z.optional(z.string()),
  cleaningSince: z.optional(z.number()),
  claimed: z.optional(z.boolean()),
});

/** One session's record (registry entry and session file). */
export const SessionRecordSchema = z.object({
  sessionId: SessionId,
  pid: Pid,
  hostname: z.string(),
  hostId: z.optional(z.string()),
  stableHostId: z.optional(StableHostId),
  processStartTime: z.nullable(z.string()),
  createdAt: z.number(),
  registeredAt: z.number(),
  heartbeatAt: z.optional(z.number()),
  status: z.enum(['active', 'stale']),
  vmId: z.nullable(z.string()),
  zone: z.nullable(z.string()),
  components: z.array(z.string()),
  metadata: Metadata,
  resources: z.array(ResourceRecordSchema),
});

/** Who owns a claim or reaps (see `SessionOwner`). */
export const SessionOwnerSchema = z.object({
  sessionId: SessionId,
  pid: Pid,
  hostname: z.string(),
  hostId: z.nullable(z.string()),
  stableHostId: z.optional(StableHostId),
  processStartTime: z.nullable(z.string()),
  createdAt: z.number(),
  heartbeatAt: z.optional(z.number()),
});

/** A claim file of the file store: `claims/<key>.json`. */
export const ClaimFileSchema = z.object({
  format: z.literal('core-session-claim'),
  kind: z.string().check(z.regex(RESOURCE_KIND)),
  id: z.string().check(z.minLength(1)),
  /** Unique per claim instance: a successor file `.<key>.next-<nonce>` holds the right to replace exactly this instance. */
  nonce: z.string().check(z.regex(/^[0-9a-f]{8,64}$/)),
  holder: SessionOwnerSchema,
  claimedAt: z.number(),
});

/** Claim file content. */
export type ClaimFile = z.infer<typeof ClaimFileSchema>;

/** The shared registry file of earlier versions (`registry.json`, imported once by the file store). */
export const RegistryFileSchema = z
  .object({
    format: z.literal('core-session-registry'),
    version: z.literal(1),
    sessions: z.record(z.string(), SessionRecordSchema),
  })
  .check(
    z.refine((file) => Object.entries(file.sessions).every(([key, record]) => key === record.sessionId), {
      message: 'every session must be stored under its own sessionId',
    }),
  );

/** The per-session global tracker file: who this session is and where its files are. */
export const TrackerFileSchema = z.object({
  format: z.literal('core-session-tracker'),
  sessionId: SessionId,
  pid: Pid,
  hostname: z.string(),
  processStartTime: z.nullable(z.string()),
  createdAt: z.number(),
  sessionFile: z.string(),
  registryFile: z.string(),
});

/** The per-process identity file that lets worker threads join the process's session. */
export const ProcessFileSchema = z.object({
  format: z.literal('core-session-process'),
  sessionId: SessionId,
  pid: Pid,
  hostname: z.string(),
  processStartTime: z.nullable(z.string()),
  createdAt: z.number(),
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
  schema: $ZodType<T>,
  text: string,
): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const result = z.safeParse(schema, json);
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
