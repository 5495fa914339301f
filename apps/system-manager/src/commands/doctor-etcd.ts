// `doctor`'s look at the etcd registry: every configured endpoint is asked
// for its status on its own (a member that does not answer is named, not
// hidden behind the others), the members agree on a leader, the cluster
// raises no alarm, every member is among the endpoints, and the configured
// user may read and write the key prefix. Read-only: it asks for status and
// the member list, and checks access with a transaction whose compare never
// holds (etcd checks the permissions of both branches; the put is never applied).
import type { SystemManagerConfig } from '../config.js';
import { bad, type CheckResult, ok } from './doctor-checks.js';

const CHECK = 'session store';
/** How long one member may take to answer. */
const ANSWER_MS = 2_000;

/** What one endpoint said. */
type Answer =
  | {
      readonly endpoint: string;
      readonly ok: true;
      readonly memberId: string;
      readonly leader: string;
      readonly version: string;
      readonly errors: readonly string[];
      readonly members: readonly { readonly id: string; readonly name: string; readonly urls: string[] }[];
      /** Why the user may not read and write the key prefix, or null when it may. */
      readonly refused: string | null;
    }
  | { readonly endpoint: string; readonly ok: false; readonly error: string };

/** etcd3's own retries and circuit breaker would hide a member that does not answer: each call is made once. */
const ONCE = { execute: (run: () => unknown) => run() };

/** The first key after every key under `prefix`. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1; // a prefix ends with '/', never 0xff
  return end;
}

/** Whether the cluster refused the user (permission, authentication): its words, else null. */
async function accessRefusal(client: import('etcd3').Etcd3, keyPrefix: string): Promise<string | null> {
  const probe = Buffer.from(`${keyPrefix}doctor-access-probe`);
  try {
    await client.kv.txn({
      compare: [{ key: probe, target: 'Version', result: 'Less', version: 0 }], // never holds
      success: [{ request_put: { key: probe, value: Buffer.alloc(0) } }],
      failure: [
        { request_range: { key: Buffer.from(keyPrefix), range_end: prefixEnd(keyPrefix), limit: 1 } },
      ],
    });
    return null;
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    if (/permission denied|authentication failed|user name|auth token/i.test(message)) return message;
    throw error;
  }
}

async function ask(
  Etcd3: typeof import('etcd3').Etcd3,
  endpoint: string,
  options: import('@core/session-etcd').EtcdSessionStoreOptions,
): Promise<Answer> {
  const tls = options.tls;
  const client = new Etcd3({
    hosts: endpoint,
    dialTimeout: ANSWER_MS,
    defaultCallOptions: () => ({ deadline: Date.now() + ANSWER_MS }),
    faultHandling: { global: ONCE as never, host: () => ONCE as never },
    ...(tls === undefined
      ? {}
      : {
          credentials: {
            rootCertificate: (tls.ca ?? null) as Buffer,
            ...(tls.key === undefined ? {} : { privateKey: tls.key as Buffer }),
            ...(tls.cert === undefined ? {} : { certChain: tls.cert as Buffer }),
          },
        }),
    ...(options.user === undefined || options.password === undefined
      ? {}
      : { auth: { username: options.user, password: options.password } }),
  });
  try {
    const status = await client.maintenance.status();
    const list = await client.cluster.memberList({});
    const refused = await accessRefusal(client, options.keyPrefix ?? 'core-session/');
    return {
      endpoint,
      ok: true,
      memberId: String(status.header.member_id),
      leader: String(status.leader),
      version: status.version,
      errors: status.errors ?? [],
      members: list.members.map((m) => ({ id: String(m.ID), name: m.name, urls: m.clientURLs })),
      refused,
    };
  } catch (error) {
    // grpc ends its messages with an empty "Resolution note: ": only the first line, without it, says something.
    const first = (error as Error).message.split('\n')[0] ?? String(error);
    return { endpoint, ok: false, error: first.replace(/\s*Resolution note:\s*$/, '') };
  } finally {
    client.close();
  }
}

/**
 * The etcd registry, when the config (`session.etcd`) or the env
 * (`CORE_SESSION_ETCD_ENDPOINTS`) names it: its settings are usable (TLS and
 * password files included), every endpoint answers, a leader exists, no
 * alarm is raised, and the members are all listed.
 */
export async function checkEtcdStore(
  config: SystemManagerConfig | null,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  const [{ parseConfig }, { etcdStoreSettings }, pkg, { Etcd3 }] = await Promise.all([
    import('../config.js'),
    import('../etcd-store-options.js'),
    import('@core/session-etcd'),
    import('etcd3'),
  ]);
  const redisUrl = env['CORE_SESSION_REDIS_URL'];
  if (redisUrl !== undefined && redisUrl !== '')
    return bad(
      CHECK,
      'fail',
      'both a Redis session registry (CORE_SESSION_REDIS_URL) and an etcd one are configured',
      'a fleet keeps its sessions in one registry: unset CORE_SESSION_REDIS_URL or the etcd settings',
    );
  let settings: ReturnType<typeof etcdStoreSettings>;
  try {
    settings = etcdStoreSettings(config ?? parseConfig({}), env, pkg.etcdEndpointsFromEnv);
  } catch (error) {
    return bad(
      CHECK,
      'fail',
      (error as Error).message,
      'fix the etcd settings (session.etcd, CORE_SESSION_ETCD_ENDPOINTS); `system-manager config check` shows the config in force',
    );
  }
  const endpoints = settings.options.endpoints;
  const answers = await Promise.all(endpoints.map((e) => ask(Etcd3, e, settings.options)));
  return judge(
    answers,
    settings.source,
    settings.options.keyPrefix ?? 'core-session/',
    settings.options.user,
  );
}

/** The verdict on what the endpoints answered. */
function judge(
  answers: readonly Answer[],
  source: string,
  keyPrefix: string,
  user: string | undefined,
): CheckResult {
  const up = answers.filter((a) => a.ok);
  const down = answers.filter((a) => !a.ok);
  const listed = answers.map((a) => a.endpoint).join(', ');
  if (up.length === 0)
    return bad(
      CHECK,
      'fail',
      `etcd ${listed}: no endpoint answers (${down.map((d) => `${d.endpoint}: ${d.error}`).join('; ')})`,
      `start the cluster, or fix ${source} (and session.etcd.tls / user when the cluster requires them)`,
    );
  const members = up[0]?.members ?? [];
  const nameOf = (id: string) => members.find((m) => m.id === id)?.name || id;
  const leaders = new Set(up.map((a) => a.leader));
  const leader = [...leaders][0] ?? '0';
  if (leaders.size !== 1 || leader === '0')
    return bad(
      CHECK,
      'fail',
      `etcd ${listed}: no leader${leaders.size > 1 ? ` agreed on (${[...leaders].map(nameOf).join(' vs ')})` : ''}: the cluster cannot commit a write (${up.length} of ${answers.length} endpoints answer)`,
      'bring a majority of the members back (etcdctl endpoint status --cluster -w table shows which are up)',
    );
  const alarms = [...new Set(up.flatMap((a) => a.errors))];
  if (alarms.length > 0)
    return bad(
      CHECK,
      'fail',
      `etcd ${listed}: the cluster reports ${alarms.join('; ')}`,
      'resolve the alarm (etcdctl alarm list; for NOSPACE compact, defragment, then etcdctl alarm disarm)',
    );
  const refused = up.find((a) => a.refused !== null)?.refused;
  if (refused)
    return bad(
      CHECK,
      'fail',
      `etcd ${listed}: ${user === undefined ? 'without a user' : `user ${JSON.stringify(user)}`} may not read and write keys under ${keyPrefix} (${refused})`,
      user === undefined
        ? 'the cluster has authentication enabled: set session.etcd.user and passwordFile'
        : `grant its role readwrite on the prefix (etcdctl role grant-permission <role> --prefix=true readwrite ${keyPrefix}), or fix session.etcd.user / passwordFile`,
    );
  const summary = `etcd cluster of ${members.length} member${members.length === 1 ? '' : 's'} (${members
    .map((m) => m.name || m.id)
    .sort()
    .join(', ')}), leader ${nameOf(leader)}, etcd ${up[0]?.version ?? '?'}, keys under ${keyPrefix}`;
  if (down.length > 0)
    return bad(
      CHECK,
      'warn',
      `${summary}; not answering: ${down.map((d) => `${d.endpoint} (${d.error})`).join('; ')}`,
      `restart the member behind ${down.map((d) => d.endpoint).join(', ')}, or drop it from ${source}: the cluster works while a majority is up, but one more loss stops every session write`,
    );
  const reached = new Set(up.map((a) => a.memberId));
  const unlisted = members.filter((m) => !reached.has(m.id));
  if (unlisted.length > 0)
    return bad(
      CHECK,
      'warn',
      `${summary}; not among the endpoints: ${unlisted.map((m) => `${m.name || m.id} (${m.urls.join(', ') || 'no client URL'})`).join(', ')}`,
      `list every member in ${source}: a call that the listed ones cannot answer has nowhere else to go`,
    );
  return ok(CHECK, `${summary}; every endpoint answers`);
}
