import { createServer, type Server } from 'node:net';

/** A listening server that holds a port on 127.0.0.1 until closed. */
export interface HeldPort {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `127.0.0.1:port` (0: any free port) so the port is really busy. */
export function holdPort(port = 0, host = '127.0.0.1'): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no address'));
      resolve({
        port: address.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

/** `count` distinct ports that were free a moment ago (the OS handed them out, then they were released). */
export async function freePorts(count: number): Promise<number[]> {
  const held = await Promise.all(Array.from({ length: count }, () => holdPort(0)));
  await Promise.all(held.map((h) => h.close()));
  return held.map((h) => h.port);
}

/**
 * A run of `length` consecutive ports that were all free a moment ago, chosen
 * below Linux's ephemeral range (32768+) so the OS does not hand them out meanwhile.
 */
export async function freeRun(length: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    const held: HeldPort[] = [];
    try {
      for (let p = base; p < base + length; p++) held.push(await holdPort(p));
      return base;
    } catch {
      // one of them was busy: try another base
    } finally {
      await Promise.all(held.map((h) => h.close()));
    }
  }
  throw new Error(`no run of ${length} free ports found`);
}

/** Holds every port in `ports`; returns one closer for all. */
export async function holdAll(ports: readonly number[]): Promise<() => Promise<void>> {
  const held = await Promise.all(ports.map((p) => holdPort(p)));
  return async () => {
    await Promise.all(held.map((h) => h.close()));
  };
}
