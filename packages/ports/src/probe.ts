import { createServer } from 'node:net';
import { PortProbeError } from './errors.js';

/** What a bind attempt found. */
export type ProbeOutcome = 'free' | 'busy' | 'denied';

/**
 * Maps a bind error to a probe outcome: EADDRINUSE is `busy`, EACCES is
 * `denied` (a privileged port as non-root, or a port a security policy
 * forbids), anything else is `null`: not a statement about the port, so the
 * caller surfaces it.
 */
export function classifyBindError(error: unknown): 'busy' | 'denied' | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') return 'busy';
  if (code === 'EACCES') return 'denied';
  return null;
}

/**
 * Binds `host:port` for real (exclusive, so a cluster primary cannot share
 * the handle) and releases it before resolving. `free` means the port could
 * be bound a moment ago; only a reservation keeps it from being taken next.
 *
 * @throws PortProbeError for a bind error that says nothing about the port
 *   (EADDRNOTAVAIL for an address this machine does not have, …).
 */
export function probePort(host: string, port: number): Promise<ProbeOutcome> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error) => {
      const outcome = classifyBindError(error);
      if (outcome === null) reject(new PortProbeError(host, port, error));
      else resolve(outcome);
    });
    // Resolve only once closed: the caller may hand the port on at once.
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve('free')));
  });
}
