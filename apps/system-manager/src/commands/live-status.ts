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

/** GET http://127.0.0.1:<port>/status, or null when nothing (valid) answers in time. Never throws. */
export async function fetchLiveStatus(
  port: number,
  timeoutMs = LIVE_STATUS_TIMEOUT_MS,
): Promise<LiveStatus | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return parseLiveStatus(await res.json());
  } catch {
    return null;
  }
}
