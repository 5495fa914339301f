// The CLI's side of the control socket: find the manager (by `--session`, or
// the only one answering), send one request, read the answer. The manager's
// answer is parsed like any outside input.
import net from 'node:net';
import os from 'node:os';
import { ConfigError, SystemManagerError } from '../errors.js';
import { controlSocketDir, listSockets, socketPathOf } from './location.js';
import type { ControlRequest } from './protocol.js';
import { type LogLine, PROTOCOL_VERSION, parseResponse } from './response.js';

/** A request as the CLI builds it (version and requester are added here). */
export type ClientRequest = ControlRequest extends infer R
  ? R extends ControlRequest
    ? Omit<R, 'v' | 'by'>
    : never
  : never;

/** How long the CLI waits for a manager to answer a ping while looking for it. */
const PING_TIMEOUT_MS = 3_000;

let self: ControlRequest['by'] | undefined;
/** Who the CLI says it is: the manager records it with what it was asked to do. Looked up once (`top` asks every second). */
function requester(): ControlRequest['by'] {
  if (self !== undefined) return self;
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  self = { user, pid: process.pid };
  return self;
}

/**
 * The control socket of the manager to talk to: `session`'s, or the only
 * live one in the runtime directory.
 * @throws SystemManagerError E_CONTROL_UNAVAILABLE (no manager), E_CONTROL_DENIED (not ours to open), E_USAGE (several, no `--session`).
 */
export async function findManager(
  session: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const dir = controlSocketDir(env);
  if (session !== undefined) {
    const socket = socketPathOf(dir, session);
    await send(socket, { command: 'ping' }, PING_TIMEOUT_MS);
    return socket;
  }
  const live: string[] = [];
  let denied: SystemManagerError | undefined;
  for (const [id, socket] of listSockets(dir)) {
    try {
      await send(socket, { command: 'ping' }, PING_TIMEOUT_MS);
      live.push(id);
    } catch (error) {
      // A socket left by a manager that was killed answers nothing: not a manager.
      if (error instanceof SystemManagerError && error.code === 'E_CONTROL_DENIED') denied ??= error;
    }
  }
  if (live.length === 1) return socketPathOf(dir, live[0] as string);
  if (live.length > 1)
    throw new SystemManagerError(
      'E_USAGE',
      `${live.length} managers are running: choose one with --session (${live.join(', ')})`,
    );
  if (denied) throw denied;
  throw new SystemManagerError(
    'E_CONTROL_UNAVAILABLE',
    `no manager is running (no control socket answers in ${dir})`,
  );
}

/**
 * Sends one request and resolves with the manager's result; lines of a
 * followed log go to `onLine` until `signal` aborts (then resolves with null).
 * @throws SystemManagerError with the manager's code when it refused or failed.
 */
export function send(
  socket: string,
  request: ClientRequest,
  timeoutMs: number | null,
  options: { onLine?: (line: LogLine) => void; signal?: AbortSignal } = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const connection = net.connect(socket);
    let received = '';
    let settled = false;
    const finish = (error: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      connection.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const timer =
      timeoutMs === null
        ? undefined
        : setTimeout(
            () =>
              finish(
                new SystemManagerError(
                  'E_CONTROL_UNAVAILABLE',
                  `the manager at ${socket} did not answer within ${timeoutMs} ms`,
                ),
              ),
            timeoutMs,
          );
    const onAbort = () => finish(null, null);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    connection.on('error', (error: NodeJS.ErrnoException) => finish(connectionError(socket, error)));
    connection.on('connect', () =>
      connection.write(`${JSON.stringify({ v: PROTOCOL_VERSION, by: requester(), ...request })}\n`),
    );
    connection.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      for (let end = received.indexOf('\n'); end >= 0; end = received.indexOf('\n')) {
        const line = received.slice(0, end);
        received = received.slice(end + 1);
        const response = parseResponse(line);
        if (response === null)
          return finish(
            new SystemManagerError(
              'E_CONTROL_PROTOCOL',
              `the manager's answer is not understood: ${line.slice(0, 200)}`,
            ),
          );
        if ('line' in response) {
          options.onLine?.(response.line);
          continue;
        }
        if (response.ok) return finish(null, response.result);
        const { code, message, details = [] } = response.error;
        // A config the manager refused (reload) ends the command as any invalid config does: exit 78.
        if (code === 'E_CONFIG_INVALID' || code === 'E_CONFIG_READ')
          return finish(new ConfigError(code, message, { details }));
        return finish(new SystemManagerError(codeOf(code), message, { details }));
      }
    });
    connection.on('end', () =>
      finish(
        new SystemManagerError(
          'E_CONTROL_UNAVAILABLE',
          `the manager at ${socket} closed the connection without an answer`,
        ),
      ),
    );
  });
}

function connectionError(socket: string, error: NodeJS.ErrnoException): SystemManagerError {
  if (error.code === 'EACCES' || error.code === 'EPERM')
    return new SystemManagerError(
      'E_CONTROL_DENIED',
      `permission denied opening ${socket}: only the manager's user (or its group) may control it`,
    );
  if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')
    return new SystemManagerError('E_CONTROL_UNAVAILABLE', `no manager answers at ${socket}`);
  return new SystemManagerError(
    'E_CONTROL_UNAVAILABLE',
    `cannot reach the manager at ${socket}: ${error.message}`,
  );
}

/** The manager's error code, if it is one of ours; anything else becomes a protocol error. */
function codeOf(code: string): ConstructorParameters<typeof SystemManagerError>[0] {
  return /^E_[A-Z_]+$/.test(code)
    ? (code as ConstructorParameters<typeof SystemManagerError>[0])
    : 'E_CONTROL_PROTOCOL';
}
