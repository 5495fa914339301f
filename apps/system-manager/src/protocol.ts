import { z } from 'zod';

/**
 * Messages a managed service may send to the manager over its IPC channel
 * (`process.send`). Cache events land in the manager's StatsRegistry under
 * the service's name.
 */
export type ServiceMessage =
  | { readonly type: 'core.cache'; readonly event: 'hit'; readonly addCostSavings?: boolean }
  | {
      readonly type: 'core.cache';
      readonly event: 'miss';
      readonly expired?: boolean;
      readonly uninitialized?: boolean;
    }
  | {
      readonly type: 'core.cache';
      readonly event: 'cleanup';
      readonly entriesCleaned: number;
      readonly success?: boolean;
    };

// The channel is input from another process: every field is checked here, so
// nothing a service sends can reach the tracker as a value it would throw on
// (a RangeError from a message handler used to take the whole manager down).
const hit = z.object({
  type: z.literal('core.cache'),
  event: z.literal('hit'),
  addCostSavings: z.boolean().optional(),
});
const miss = z
  .object({
    type: z.literal('core.cache'),
    event: z.literal('miss'),
    expired: z.boolean().optional(),
    uninitialized: z.boolean().optional(),
  })
  .refine((m) => !(m.expired === true && m.uninitialized === true), {
    message: 'a miss is either expired or uninitialized, not both',
    path: ['uninitialized'],
  });
const cleanup = z.object({
  type: z.literal('core.cache'),
  event: z.literal('cleanup'),
  entriesCleaned: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  success: z.boolean().optional(),
});

/** Schema of one IPC message from a service (zod). */
export const serviceMessageSchema = z.discriminatedUnion('event', [hit, miss, cleanup]);

/** Why a message was refused: `kind` groups repeats for logging (e.g. `cleanup.entriesCleaned`). */
export interface BadServiceMessage {
  readonly kind: string;
  readonly reason: string;
  /** The offending value (the field's, or the whole message when the shape itself is wrong). */
  readonly value: unknown;
}

/** The outcome of {@link parseServiceMessage}. */
export type ParsedServiceMessage =
  | { readonly ok: true; readonly message: ServiceMessage }
  | ({ readonly ok: false } & BadServiceMessage);

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Validates one message from a service's IPC channel. Never throws. */
export function parseServiceMessage(input: unknown): ParsedServiceMessage {
  const result = serviceMessageSchema.safeParse(input);
  if (result.success) return { ok: true, message: result.data as ServiceMessage };
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  const event = valueAt(input, ['event']);
  // Kinds are a bounded set (known events × known fields), so "once per kind" stays bounded whatever is sent.
  const head = event === 'hit' || event === 'miss' || event === 'cleanup' ? event : 'message';
  const kind = path.length > 0 ? `${head}.${path.map(String).join('.')}` : head;
  const value = path.length > 0 ? valueAt(input, path) : input;
  return { ok: false, kind, reason: issue?.message ?? 'invalid message', value };
}

/** Narrowing guard for {@link ServiceMessage}. */
export function isServiceMessage(value: unknown): value is ServiceMessage {
  return serviceMessageSchema.safeParse(value).success;
}
