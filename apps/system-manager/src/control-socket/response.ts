// The manager's side of the protocol as the CLI reads it: the response lines.
// Written with zod/mini (functions instead of methods) so that a bundled
// command (`top`) carries only the few checks it uses instead of loading
// full zod: the CLI parses every answer like any outside input all the same.
import * as z from 'zod/mini';

/** The protocol version this side speaks. */
export const PROTOCOL_VERSION = 1;

/** One line of a service's output, as `logs` sends it. */
export interface LogLine {
  readonly service: string;
  readonly text: string;
}

/** A failure, as the manager reports it. */
export interface ControlFailure {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly string[];
}

/** What the manager sends back: a result, a failure, or (following logs) one line. */
export type ControlResponse =
  | { readonly v: 1; readonly ok: true; readonly result: unknown }
  | { readonly v: 1; readonly ok: false; readonly error: ControlFailure }
  | { readonly v: 1; readonly line: LogLine };

const responseSchema = z.union([
  z.object({ v: z.literal(PROTOCOL_VERSION), ok: z.literal(true), result: z.unknown() }),
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    ok: z.literal(false),
    error: z.object({
      code: z.string().check(z.maxLength(64)),
      message: z.string().check(z.maxLength(64 * 1024)),
      details: z.optional(z.array(z.string()).check(z.maxLength(1_000))),
    }),
  }),
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    line: z.object({ service: z.string().check(z.maxLength(256)), text: z.string() }),
  }),
]);

/** Parses one response line (the client's side: the manager's answer is checked too). Null when it is not one. */
export function parseResponse(line: string): ControlResponse | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  const parsed = responseSchema.safeParse(value);
  return parsed.success ? (parsed.data as ControlResponse) : null;
}
