// Endpoints of the cluster: from options or from CORE_SESSION_ETCD_ENDPOINTS.
// Checked strictly (scheme, host, port) so a typo fails at start with the
// variable's name instead of as an endless reconnect.

/** Env var with the cluster's client URLs, comma-separated. */
export const ETCD_ENDPOINTS_ENV = 'CORE_SESSION_ETCD_ENDPOINTS';

const ENDPOINT =
  /^(?:(https?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})\/?$/;

/**
 * Checks one endpoint and returns it as the client takes it
 * (`http://host:port`, or `https://` as given).
 * @throws TypeError naming the value and the expected form
 */
export function parseEndpoint(endpoint: string): string {
  const match = typeof endpoint === 'string' ? ENDPOINT.exec(endpoint.trim()) : null;
  const port = match ? Number(match[3]) : 0;
  if (match === null || port < 1 || port > 65_535)
    throw new TypeError(
      `expected a client URL like http://10.0.0.5:2379 (https:// for TLS, or host:port), got ${JSON.stringify(endpoint)}`,
    );
  return `${match[1] ?? 'http'}://${match[2]}:${port}`;
}

/**
 * The endpoints in `CORE_SESSION_ETCD_ENDPOINTS` (comma-separated, spaces
 * allowed), or undefined when it is unset or empty — then the caller uses its
 * own configuration or the file store.
 *
 * @param env - the environment to read (default `process.env`)
 * @throws TypeError naming the variable and the bad entry
 */
export function etcdEndpointsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env[ETCD_ENDPOINTS_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length > 64)
    throw new TypeError(`${ETCD_ENDPOINTS_ENV}: at most 64 endpoints, got ${entries.length}`);
  return entries.map((entry) => {
    try {
      return parseEndpoint(entry);
    } catch (error) {
      throw new TypeError(`${ETCD_ENDPOINTS_ENV}: ${(error as Error).message}`);
    }
  });
}
