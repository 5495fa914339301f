// The control socket's protocol, version 1: newline-delimited JSON, one
// request per connection. The manager answers with one response line, or —
// for `logs` with `follow` — with log lines until the client closes. Whatever
// arrives on the socket is input from another process: parsed here, with
// bounds, before anything acts on it.
import { z } from 'zod';
import { PROTOCOL_VERSION } from './response.js';

export {
  type ControlFailure,
  type ControlResponse,
  type LogLine,
  PROTOCOL_VERSION,
  parseResponse,
} from './response.js';

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
