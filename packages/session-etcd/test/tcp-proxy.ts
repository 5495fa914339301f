// A loopback TCP proxy the test can cut: a client behind it is partitioned
// from the cluster while the cluster itself stays healthy. `cut` destroys
// every connection and then holds new ones open without forwarding a byte
// (a black hole, like a dropped route: the client sees time-outs, not
// refusals); `heal` forwards again.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  readonly endpoint: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port to 127.0.0.1:`targetPort`. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    if (!open) return; // held: accepted, never answered
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    cut() {
      open = false;
      dropAll();
    },
    heal() {
      open = true;
      dropAll(); // the held ones: the client reconnects through the open proxy
    },
    async close() {
      open = false;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
