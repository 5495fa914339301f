// The manager's side of the control socket: the only way in for commands that
// change something (restart, stop, start, signal, reload). Who may speak is
// decided by the file system — the socket is 0600 in a directory of ours — so
// the manager itself only bounds and validates what arrives.
import { chmodSync, lchownSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { SystemManagerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Requester } from '../supervisor/service-history.js';
import { prepareSocketPlace } from './location.js';
import {
  type ControlFailure,
  type ControlRequest,
  type LogLine,
  MAX_REQUEST_BYTES,
  type OPERATOR_SIGNALS,
  parseRequest,
} from './protocol.js';
import { unreachableFor } from './socket-group.js';

/** What the control socket can ask of the manager. Names are checked by the implementation. */
export interface ControlActions {
  restart(services: readonly string[], by: Requester): Promise<unknown>;
  stop(services: readonly string[], by: Requester): Promise<unknown>;
  start(services: readonly string[], by: Requester): Promise<unknown>;
  signal(service: string, signal: (typeof OPERATOR_SIGNALS)[number], by: Requester): unknown;
  reload(by: Requester): Promise<unknown>;
  describe(service: string): unknown;
  /** Every service's state and its cache counters, in one answer (what `top` polls). */
  overview(): unknown;
  /** The last `lines` lines of one service's output (or of all, interleaved by time where known). */
  logs(service: string | null, lines: number): Promise<readonly LogLine[]>;
  /** Calls `onLine` for each new line; returns the unsubscribe function. */
  follow(service: string | null, onLine: (line: LogLine) => void): () => void;
}

/** Requests that change nothing: not logged (`top` sends one every second). */
const READ_ONLY_COMMANDS: ReadonlySet<ControlRequest['command']> = new Set([
  'ping',
  'describe',
  'logs',
  'overview',
]);

/** Most connections held at once; more wait in the kernel's backlog. */
const MAX_CONNECTIONS = 32;
/** A client must send its request within this long. */
const REQUEST_TIMEOUT_MS = 5_000;
/** A follower that lets this much output pile up unread is dropped (the manager never buffers without bound). */
const MAX_FOLLOW_BACKLOG = 1024 * 1024;

/** A listening control socket. */
export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `socket` (in a directory checked by {@link prepareSocketPlace}),
 * mode 0600 from the moment it exists; with `group` (a gid) it is then given
 * to that group and opened to it: 0660.
 * @throws SystemManagerError E_CONTROL_SOCKET when the place is not safe or the socket cannot be created.
 */
export async function startControlSocket(
  dir: string,
  socket: string,
  actions: ControlActions,
  log: Logger,
  group?: number,
): Promise<ControlSocket> {
  prepareSocketPlace(dir, socket, group);
  const connections = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (connection) => {
    connections.add(connection);
    connection.once('close', () => connections.delete(connection));
    serve(connection, actions, log);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', (error) => log.error({ err: error, socket }, 'control socket error'));
  // The socket file is created by bind() inside listen(): with this umask it is 0600 from the start.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new SystemManagerError(
      'E_CONTROL_SOCKET',
      `cannot listen on ${socket}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    process.umask(umask);
  }
  try {
    // The group first, then the mode: the socket is never open to a group other than the configured one.
    if (group !== undefined) lchownSync(socket, -1, group);
    chmodSync(socket, group === undefined ? 0o600 : 0o660);
  } catch (error) {
    server.close();
    throw new SystemManagerError(
      'E_CONTROL_SOCKET',
      `cannot set the owner group or mode of ${socket}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (group !== undefined) {
    const blocked = unreachableFor(group, dir);
    if (blocked !== null)
      log.warn(
        { socket, group, blocked },
        `control socket: members of group ${group} cannot reach it: ${blocked} is not searchable for them`,
      );
  }
  const { ino } = lstatSync(socket);
  log.info({ socket }, `control socket: ${socket}`);
  return {
    path: socket,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.destroy();
        server.close(() => {
          // Removed only while it is still the socket this server made.
          try {
            if (lstatSync(socket).ino === ino) unlinkSync(socket);
          } catch {
            // Already gone.
          }
          resolve();
        });
      }),
  };
}

function serve(connection: net.Socket, actions: ControlActions, log: Logger): void {
  connection.on('error', () => {}); // a client that goes away mid-answer is not an error of ours
  connection.setTimeout(REQUEST_TIMEOUT_MS, () => connection.destroy());
  let received = '';
  const onData = (chunk: Buffer) => {
    received += chunk.toString('utf8');
    const end = received.indexOf('\n');
    if (end < 0 && Buffer.byteLength(received) <= MAX_REQUEST_BYTES) return;
    connection.off('data', onData);
    connection.pause();
    if (end < 0 || end > MAX_REQUEST_BYTES) {
      reply(connection, {
        code: 'E_CONTROL_PROTOCOL',
        message: `a request is one line of at most ${MAX_REQUEST_BYTES} bytes`,
      });
      return;
    }
    const parsed = parseRequest(received.slice(0, end));
    if ('refused' in parsed) {
      log.warn({ reason: parsed.refused }, 'control socket: request refused');
      reply(connection, { code: 'E_CONTROL_PROTOCOL', message: parsed.refused });
      return;
    }
    connection.setTimeout(0);
    handle(connection, parsed.request, actions, log).catch((error: unknown) => {
      log.error({ err: error }, 'control socket: handling a request failed');
      connection.destroy();
    });
  };
  connection.on('data', onData);
}

async function handle(
  connection: net.Socket,
  request: ControlRequest,
  actions: ControlActions,
  log: Logger,
): Promise<void> {
  const by = request.by;
  if (!READ_ONLY_COMMANDS.has(request.command))
    log.info({ command: request.command, by }, `control socket: ${request.command} requested by ${by.user}`);
  try {
    switch (request.command) {
      case 'ping':
        return reply(connection, null, { pid: process.pid });
      case 'restart':
      case 'stop':
      case 'start':
        return reply(connection, null, await actions[request.command](request.services, by));
      case 'signal':
        return reply(connection, null, actions.signal(request.service, request.signal, by));
      case 'reload':
        return reply(connection, null, await actions.reload(by));
      case 'describe':
        return reply(connection, null, actions.describe(request.service));
      case 'overview':
        return reply(connection, null, actions.overview());
      case 'logs':
        return await sendLogs(connection, request, actions);
    }
  } catch (error) {
    if (!(error instanceof SystemManagerError))
      log.error({ err: error }, `control socket: ${request.command} failed`);
    reply(connection, failureOf(error));
  }
}

async function sendLogs(
  connection: net.Socket,
  request: Extract<ControlRequest, { command: 'logs' }>,
  actions: ControlActions,
): Promise<void> {
  const recent = await actions.logs(request.service, request.lines);
  if (!request.follow) return reply(connection, null, recent);
  const send = (line: LogLine) => {
    if (connection.destroyed) return;
    if (connection.writableLength > MAX_FOLLOW_BACKLOG) {
      connection.destroy();
      return;
    }
    connection.write(`${JSON.stringify({ v: 1, line })}\n`);
  };
  for (const line of recent) send(line);
  const unsubscribe = actions.follow(request.service, send);
  connection.once('close', unsubscribe);
  // The client ends its side to stop following.
  connection.resume();
  connection.once('end', () => connection.end());
}

function failureOf(error: unknown): ControlFailure {
  if (error instanceof SystemManagerError)
    return {
      code: error.code,
      message: error.message,
      ...(error.details.length > 0 ? { details: error.details } : {}),
    };
  return { code: 'E_INTERNAL', message: (error as Error)?.message ?? String(error) };
}

function reply(connection: net.Socket, failure: ControlFailure | null, result?: unknown): void {
  const response =
    failure === null ? { v: 1, ok: true, result: result ?? null } : { v: 1, ok: false, error: failure };
  connection.end(`${JSON.stringify(response)}\n`);
}
