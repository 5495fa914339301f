// A running manager's own view of itself: GET /status on its loopback control port.

/** One service as a manager's `GET /status` reports it; fields a manager does not send are undefined. */
export interface LiveService {
  readonly name: string;
  readonly state?: string | undefined;
  readonly health?: 'ok' | 'failing' | 'unknown' | undefined;
  readonly pid?: number | null | undefined;
  readonly port?: number | undefined;
  readonly portName?: string | undefined;
  readonly startedAt?: number | null | undefined;
  readonly restarts?: number | undefined;
  readonly lastExit?: unknown | undefined;
  /** The user who stopped it, while an operator holds it stopped. */
  readonly stoppedBy?: string | undefined;
}

/** The part of `GET /status` that `status` and `ports` use. */
export interface LiveStatus {
  readonly sessionId?: string | null;
  readonly state?: string;
  readonly ports?: Record<string, number> | undefined;
  readonly aliases?: Record<string, number> | undefined;
  readonly services: readonly LiveService[];
}

/** Short: a manager that does not answer within this is reported from the registry instead. */
export const LIVE_STATUS_TIMEOUT_MS = 750;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keeps only well-typed fields: whatever answers on that port is untrusted input. */
export function parseLiveStatus(value: unknown): LiveStatus | null {
  if (!isRecord(value) || !Array.isArray(value['services'])) return null;
  const services: LiveService[] = [];
  for (const raw of value['services']) {
    if (!isRecord(raw) || typeof raw['name'] !== 'string') continue;
    const num = (k: string) =>
      typeof raw[k] === 'number' && Number.isFinite(raw[k]) ? (raw[k] as number) : undefined;
    const health = raw['health'];
    services.push({
      name: raw['name'],
      ...(typeof raw['state'] === 'string' ? { state: raw['state'] } : {}),
      ...(health === 'ok' || health === 'failing' || health === 'unknown' ? { health } : {}),
      ...(num('pid') !== undefined ? { pid: num('pid') } : {}),
      ...(num('port') !== undefined ? { port: num('port') } : {}),
      ...(typeof raw['portName'] === 'string' ? { portName: raw['portName'] } : {}),
      ...(num('startedAt') !== undefined ? { startedAt: num('startedAt') } : {}),
      ...(num('restarts') !== undefined ? { restarts: num('restarts') } : {}),
      ...('lastExit' in raw ? { lastExit: raw['lastExit'] } : {}),
      ...(isRecord(raw['stoppedBy']) && typeof raw['stoppedBy']['user'] === 'string'
        ? { stoppedBy: raw['stoppedBy']['user'] }
        : {}),
    });
  }
  const portMap = (field: string) => {
    const out: Record<string, number> = {};
    const raw = value[field];
    if (isRecord(raw))
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && Number.isInteger(v)) out[k] = v;
    return out;
  };
  const ports = portMap('ports');
  const aliases = portMap('aliases');
  return {
    services,
    ports,
    aliases,
    ...(typeof value['sessionId'] === 'string' ? { sessionId: value['sessionId'] } : {}),
    ...(typeof value['state'] === 'string' ? { state: value['state'] } : {}),
  };
}

/** Largest `GET /status` body read (a manager's is a few kB; a stranger on the port could send anything). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * GET http://127.0.0.1:<port>/status, or null when nothing (valid) answers in
 * time. Never throws. node:http rather than fetch: fetch loads undici,
 * ~15 ms more on every `status`.
 */
export async function fetchLiveStatus(
  port: number,
  timeoutMs = LIVE_STATUS_TIMEOUT_MS,
): Promise<LiveStatus | null> {
  // Loaded here, not at the top: with no manager running, status and ports never need it.
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/status', timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(null);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) req.destroy();
        else chunks.push(c);
      });
      res.on('end', () => {
        try {
          resolve(parseLiveStatus(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
      // After 'end' (already resolved) or when cut short (a body over the limit): never left pending.
      res.on('close', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
