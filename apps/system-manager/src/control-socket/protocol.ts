// The control socket's protocol, version 1: newline-delimited JSON, one
// request per connection. The manager answers with one response line, or —
// for `logs` with `follow` — with log lines until the client closes. Whatever
// arrives on the socket is input from another process: parsed here, with
// bounds, before anything acts on it.
import { z } from 'zod';

/** The protocol version this side speaks. */
export const PROTOCOL_VERSION = 1;

/** The longest request line the manager reads (bytes); a longer one is refused. */
export const MAX_REQUEST_BYTES = 16 * 1024;

/** Signals an operator may send to a service (`signal <SIG> <service>`). */
export const OPERATOR_SIGNALS = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGCONT',
  'SIGSTOP',
  'SIGWINCH',
] as const;

/** Most lines `logs -n` returns. */
export const MAX_LOG_LINES = 10_000;

const serviceName = z.string().min(1).max(128);
const requester = z.object({
  user: z.string().max(256),
  pid: z.number().int().positive().nullable(),
});

const envelope = { v: z.literal(PROTOCOL_VERSION), by: requester };

/** A request, as the manager accepts it. */
export const controlRequestSchema = z.discriminatedUnion('command', [
  z.object({ ...envelope, command: z.literal('ping') }),
  z.object({
    ...envelope,
    command: z.enum(['restart', 'stop', 'start']),
    services: z.array(serviceName).min(1).max(256),
  }),
  z.object({
    ...envelope,
    command: z.literal('signal'),
    signal: z.enum(OPERATOR_SIGNALS),
    service: serviceName,
  }),
  z.object({ ...envelope, command: z.literal('reload') }),
  z.object({ ...envelope, command: z.literal('overview') }),
  z.object({ ...envelope, command: z.literal('describe'), service: serviceName }),
  z.object({
    ...envelope,
    command: z.literal('logs'),
    service: serviceName.nullable(),
    lines: z.number().int().min(0).max(MAX_LOG_LINES),
    follow: z.boolean(),
  }),
]);

/** A request to the manager. */
export type ControlRequest = z.infer<typeof controlRequestSchema>;

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
      code: z.string().max(64),
      message: z.string().max(64 * 1024),
      details: z.array(z.string()).max(1_000).optional(),
    }),
  }),
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    line: z.object({ service: z.string().max(256), text: z.string() }),
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

/** Parses one request line: the request, or why it was refused (one line, naming the field). */
export function parseRequest(line: string): { request: ControlRequest } | { refused: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { refused: 'the request is not JSON' };
  }
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== PROTOCOL_VERSION)
    return {
      refused: `protocol version ${JSON.stringify(value.v)} is not spoken here (only ${PROTOCOL_VERSION})`,
    };
  const parsed = controlRequestSchema.safeParse(value);
  if (parsed.success) return { request: parsed.data };
  const issue = parsed.error.issues[0];
  return { refused: `invalid request: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` };
}
