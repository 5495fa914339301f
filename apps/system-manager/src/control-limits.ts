import { readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Socket } from 'node:net';

/** Connections the control endpoint holds at most when the descriptor limit leaves room for more. */
export const CONNECTION_CEILING = 64;
/** Connections it holds at least, however tight the limit: one for `/health`, a few for scrapers. */
const CONNECTION_FLOOR = 4;

/** The soft `nofile` limit and the descriptors open now, from /proc (Linux), or `undefined` elsewhere. */
export function descriptorUsage(): { readonly limit: number; readonly open: number } | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return undefined;
    // readdir opens the directory itself, which is in the listing: not one of ours.
    return { limit: Number(line[1]), open: Math.max(0, readdirSync('/proc/self/fd').length - 1) };
  } catch {
    return undefined;
  }
}

/**
 * How many connections the control endpoint may hold: half of the
 * descriptors still free under the `nofile` limit, between 4 and 64. The
 * other half is headroom for the supervisor (a spawn takes ~8 descriptors
 * for a moment, a health probe one): idle clients of the endpoint must never
 * be what keeps a service from restarting.
 */
export function connectionBudget(usage = descriptorUsage()): number {
  if (usage === undefined) return CONNECTION_CEILING;
  const free = usage.limit - usage.open;
  return Math.max(CONNECTION_FLOOR, Math.min(CONNECTION_CEILING, Math.floor(free / 2)));
}

/**
 * Caps the connections of an HTTP server at `max` without ever locking a
 * new client out: when one more arrives, the connection idle the longest (no
 * request in flight, whether it never sent one, sent half of one, or is
 * kept alive between requests) is destroyed to make room. Only when every
 * held connection is busy is the newcomer refused.
 *
 * Per client: every client of a loopback endpoint comes from 127.0.0.1, and
 * a client's source port is per connection, so a per-address cap would be
 * this one cap. What a per-client cap is for, a crowd of connections never
 * keeping another client (the `/health` probe of systemd or a load balancer)
 * out, is what evicting the oldest idle one gives.
 */
export class ConnectionCap {
  /** Connections without a request in flight, the one idle longest first (a Set keeps insertion order). */
  private readonly idle = new Set<Socket>();
  /** Connections with requests in flight, and how many (pipelining). */
  private readonly busy = new Map<Socket, number>();
  private evictedCount = 0;
  private refusedCount = 0;

  constructor(readonly max: number) {}

  /** Connections held now. */
  get size(): number {
    return this.idle.size + this.busy.size;
  }

  /** Idle connections destroyed to make room for a new one. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** New connections destroyed at once because every held one was busy. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Starts counting `server`'s connections and requests. */
  attach(server: http.Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket;
      this.begin(socket);
      res.once('close', () => this.end(socket));
    });
  }

  private admit(socket: Socket): void {
    socket.once('close', () => {
      this.idle.delete(socket);
      this.busy.delete(socket);
    });
    if (this.size >= this.max) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        this.refusedCount += 1;
        socket.destroy();
        return;
      }
      this.idle.delete(oldest.value);
      this.evictedCount += 1;
      oldest.value.destroy();
    }
    this.idle.add(socket);
  }

  private begin(socket: Socket): void {
    if (socket.destroyed) return;
    this.idle.delete(socket);
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
  }

  private end(socket: Socket): void {
    const inFlight = this.busy.get(socket);
    if (inFlight === undefined) return;
    if (inFlight > 1) {
      this.busy.set(socket, inFlight - 1);
      return;
    }
    this.busy.delete(socket);
    // Back among the idle as the most recently active: a keep-alive client that just asked is evicted last.
    if (!socket.destroyed) this.idle.add(socket);
  }
}

/**
 * Ends a connection whose request failed (bad syntax, a timeout, a reset):
 * writes `response` if it still can, then destroys the socket. A plain
 * `end()` only half-closes it, and a client that never reads nor closes
 * would keep the descriptor for as long as it likes.
 */
export function dropClient(socket: Socket, response: string | undefined): void {
  if (response === undefined || !socket.writable) {
    socket.destroy();
    return;
  }
  // The response is small and goes out at once; if the client's window is full it is not waited for.
  const force = setTimeout(() => socket.destroy(), 1_000);
  force.unref();
  socket.end(response, () => {
    clearTimeout(force);
    socket.destroy();
  });
}
