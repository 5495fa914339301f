// Where the store connects: one server (`redis://`, `rediss://` for TLS), or
// the master of a group that Sentinel watches and fails over
// (`redis+sentinel://` / `rediss+sentinel://`, or the `sentinels` and
// `masterName` options). The result is what ioredis takes, plus a location
// for messages that never shows a password.

/** One Sentinel to ask for the master. */
export interface SentinelAddress {
  readonly host: string;
  readonly port: number;
}

/** The connection options of an endpoint, as ioredis names them. */
export interface EndpointOptions {
  readonly host?: string;
  readonly port?: number;
  readonly sentinels?: { host: string; port: number }[];
  readonly name?: string;
  readonly role?: 'master';
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  readonly tls?: Record<string, never>;
}

/** A parsed endpoint. */
export interface Endpoint {
  /** ioredis options for the connection (the caller adds timeouts and retries). */
  readonly options: EndpointOptions;
  /** The endpoint with any password as `***`, for messages. */
  readonly redacted: string;
  /** Whether the master is found through Sentinel (and may move). */
  readonly sentinel: boolean;
}

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/]+)(?:\/(\d{1,2}))?\/?$/;
const MASTER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function hostPort(text: string, defaultPort: number): SentinelAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match) throw new TypeError(`"${text}" is not host[:port]`);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port < 1 || port > 65_535) throw new RangeError(`port ${port} of "${text}" is out of range`);
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

function credentials(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
  return { ...(username === '' ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/**
 * Parses the store's `url` (and `sentinels`/`masterName` when given).
 *
 * - `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS);
 * - `redis+sentinel://[user[:password]@]s1[:26379],s2,…/<master name>[/db]`,
 *   `rediss+sentinel://…` (TLS to the master; the Sentinels themselves are
 *   asked in plain text unless `sentinelTls`). The credentials are the
 *   master's (ACL user and password); Sentinels are asked without them.
 * - `sentinels` + `masterName` options with a `redis://` URL: the URL gives
 *   scheme, credentials and db, the options where to find the master.
 *
 * @throws TypeError / RangeError naming what is wrong (never echoing a password).
 */
export function parseEndpoint(
  url: string,
  sentinels?: readonly SentinelAddress[],
  masterName?: string,
): Endpoint {
  const sentinelUrl = SENTINEL_URL.exec(url);
  if (sentinelUrl) {
    const [, scheme, userinfo, hosts, name, db] = sentinelUrl as unknown as [
      string,
      string,
      string | undefined,
      string,
      string,
      string | undefined,
    ];
    const list = hosts.split(',').map((h) => hostPort(h, 26_379));
    return sentinelEndpoint(scheme === 'rediss', userinfo, list, decodeURIComponent(name), db);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      'the url is not redis://host[:port], rediss://… or redis+sentinel://s1,s2,…/<master name>',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new TypeError(
      `the url scheme must be redis:, rediss:, redis+sentinel: or rediss+sentinel:, got ${parsed.protocol}`,
    );
  const userinfo =
    parsed.username || parsed.password
      ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}`
      : undefined;
  const db = parsed.pathname.replace(/^\//, '') || undefined;
  if (db !== undefined && !/^\d{1,2}$/.test(db))
    throw new TypeError(`the url's database must be a number, got "${db}"`);
  if (sentinels !== undefined || masterName !== undefined) {
    if (sentinels === undefined || sentinels.length === 0 || masterName === undefined)
      throw new TypeError('"sentinels" and "masterName" go together: give both or neither');
    return sentinelEndpoint(parsed.protocol === 'rediss:', userinfo, sentinels, masterName, db);
  }
  const redacted = new URL(url);
  if (redacted.password) redacted.password = '***';
  return {
    options: {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: parsed.port === '' ? 6379 : Number(parsed.port),
      ...credentials(userinfo),
      ...(db === undefined ? {} : { db: Number(db) }),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    redacted: redacted.toString().replace(/\/$/, ''),
    sentinel: false,
  };
}

function sentinelEndpoint(
  tls: boolean,
  userinfo: string | undefined,
  sentinels: readonly SentinelAddress[],
  name: string,
  db: string | undefined,
): Endpoint {
  if (!MASTER_NAME.test(name))
    throw new TypeError(`the Sentinel master name must be 1-64 of [A-Za-z0-9._-], got "${name}"`);
  const auth = credentials(userinfo);
  const user = auth.username ?? '';
  const shownUser =
    user === '' && auth.password === undefined ? '' : `${user}${auth.password === undefined ? '' : ':***'}@`;
  return {
    options: {
      sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
      name,
      role: 'master',
      ...auth,
      ...(db === undefined ? {} : { db: Number(db) }),
      ...(tls ? { tls: {} } : {}),
    },
    redacted: `${tls ? 'rediss' : 'redis'}+sentinel://${shownUser}${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${name}${db === undefined ? '' : `/${db}`}`,
    sentinel: true,
  };
}
