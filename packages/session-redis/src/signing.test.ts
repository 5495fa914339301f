import { randomBytes } from 'node:crypto';
import { createSessionManager } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, freshPrefix, rawClient, recordOf, remoteOwner, until } from '../test/helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from '../test/redis-server.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from './index.js';
import { EntrySigner, open } from './signing.js';

const KEY = randomBytes(32);
const OTHER_KEY = randomBytes(32);

describe('EntrySigner', () => {
  it('binds a signature to the key and the entry it is stored under', () => {
    const signer = new EntrySigner(KEY);
    const sealed = signer.seal('P s:a', '{"x":1}');
    expect(sealed).toMatch(/^\{"x":1\}\n#hmac-sha256:[0-9a-f]{64}$/);
    expect(signer.open('P s:a', sealed)).toEqual({ ok: true, value: '{"x":1}' });
    expect(signer.open('P s:b', sealed)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not verify/),
    });
    expect(new EntrySigner(OTHER_KEY).open('P s:a', sealed).ok).toBe(false);
    expect(signer.open('P s:a', '{"x":1}')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not signed/),
    });
    expect(signer.open('P s:a', sealed.replace('"x":1', '"x":2')).ok).toBe(false);
    // Without a key a signature is dropped unchecked: a signed fleet reads as before.
    expect(open(null, 'P s:a', sealed)).toEqual({ ok: true, value: '{"x":1}' });
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new EntrySigner(Buffer.from('password'))).toThrow(/at least 32 bytes.*got 8 bytes/);
  });
});

describe.skipIf(SKIP_REASON !== null)('a fleet key on a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisSessionStore[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    raw?.disconnect();
    await server?.dispose();
  });

  function store(prefix: string, options: Partial<RedisSessionStoreOptions> = {}) {
    const s = new RedisSessionStore({
      url: server.url,
      keyPrefix: prefix,
      leaseTtlMs: 600,
      heartbeatMs: 150,
      settleMs: 0,
      ...options,
    });
    stores.push(s);
    return s;
  }

  /** Reaps with `s`; returns the ids handed to the cleanup. */
  async function reapWith(s: RedisSessionStore): Promise<string[]> {
    const cleaned: string[] = [];
    const reaper = createSessionManager({ dir: freshDir(), store: s });
    await reaper.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    return cleaned;
  }

  it('members with the key read each other; a store with another key refuses the entries, once each, and counts them', async () => {
    const prefix = freshPrefix();
    const writer = store(prefix, { fleetKey: KEY });
    const manager = createSessionManager({ dir: freshDir(), store: writer });
    await manager.registerVm('vm-signed', 'zone-a', []);
    await manager.claimResources('vm', () => [{ kind: 'vm', id: 'vm-claimed' }]);
    expect(await raw.hget(`${prefix}s:${manager.sessionId}`, 'rec')).toMatch(/\n#hmac-sha256:[0-9a-f]{64}$/);

    const member = store(prefix, { fleetKey: KEY });
    expect((await member.listSessions()).map((s) => s.record.sessionId)).toEqual([manager.sessionId]);
    expect((await member.listClaims('vm')).map((c) => c.id)).toEqual(['vm-claimed']);
    expect(store(prefix).signed).toBe(false);
    expect((await store(prefix).listSessions()).length).toBe(1); // without a key: trusted, as before

    const warnings: string[] = [];
    const stranger = store(prefix, {
      fleetKey: OTHER_KEY,
      logger: { warn: (_o, m) => warnings.push(m ?? '') },
    });
    expect(await stranger.listSessions()).toEqual([]);
    expect(await stranger.listClaims('vm')).toEqual([]);
    await stranger.listSessions();
    expect(stranger.unverifiedEntries).toBe(2);
    expect(warnings.filter((w) => w.includes(`s:${manager.sessionId}`))).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/does not verify with the fleet key/);
    await manager.unregisterSession();
  });

  it('planted records — unsigned, signed with another key, or a live record copied under another id — get no cleanup; without a key the unsigned one would', async () => {
    const prefix = freshPrefix();
    // A dead session written by a store without the key (no lease: judged dead by its expired lease).
    const planter = store(prefix);
    const unsigned = remoteOwner('planted-unsigned');
    planter.attach(unsigned);
    await planter.writeRecord(recordOf(unsigned, ['prod-db-1']));
    await planter.close();
    // The same with another key.
    const forger = store(prefix, { fleetKey: OTHER_KEY });
    const forged = remoteOwner('planted-forged');
    forger.attach(forged);
    await forger.writeRecord(recordOf(forged, ['prod-db-2']));
    await forger.close();
    // A live member's signed record, copied byte for byte under another session id.
    const live = store(prefix, { fleetKey: KEY });
    const liveManager = createSessionManager({ dir: freshDir(), store: live });
    await liveManager.registerVm('prod-db-3', 'zone-a', []);
    // The live record and its signature, under another id and as a dead owner on another host.
    const copy = await raw.hgetall(`${prefix}s:${liveManager.sessionId}`);
    const [text, signature] = (copy['rec'] as string).split('\n');
    const edited = {
      ...JSON.parse(text as string),
      sessionId: 'copied-1',
      hostname: 'gone',
      hostId: 'gone-host',
    };
    await raw.hset(`${prefix}s:copied-1`, { ...copy, rec: `${JSON.stringify(edited)}\n${signature}` });
    await raw.sadd(`${prefix}sessions`, 'copied-1');
    await until(
      async () =>
        (await raw.exists(`${prefix}l:${unsigned.sessionId}`, `${prefix}l:${forged.sessionId}`)) === 0,
      'the planted leases to expire',
    );

    const fleetStore = store(prefix, { fleetKey: KEY });
    expect(await reapWith(fleetStore)).toEqual([]);
    expect(fleetStore.unverifiedEntries).toBe(3);
    // Left in place for inspection, never acted on.
    expect(
      await raw.exists(
        `${prefix}s:${unsigned.sessionId}`,
        `${prefix}s:${forged.sessionId}`,
        `${prefix}s:copied-1`,
      ),
    ).toBe(3);
    // The check is what stops them: a store without the key reaps the unsigned plant (and the copy).
    expect((await reapWith(store(prefix))).sort()).toEqual(['prod-db-1', 'prod-db-2', 'prod-db-3'].sort());
    await liveManager.unregisterSession();
  });

  it('a planted unsigned claim holds nothing: a member with the key takes the resource', async () => {
    const prefix = freshPrefix();
    const holder = remoteOwner('squatter');
    await raw.set(`${prefix}c:vm:fleet:vm-9`, `v2 ${holder.sessionId} ${JSON.stringify(holder)}`);
    await raw.sadd(`${prefix}claims:vm`, 'fleet:vm-9');
    await raw.set(`${prefix}l:${holder.sessionId}`, 'a-live-looking-lease', 'PX', 60_000);
    // Without the key the squatter's live-looking lease would win.
    const unsignedManager = createSessionManager({ dir: freshDir(), store: store(prefix) });
    await expect(
      unsignedManager.claimResources('vm', () => [{ kind: 'vm', id: 'vm-9' }]),
    ).rejects.toMatchObject({ code: 'E_SESSION_CLAIM_CONFLICT' });
    const manager = createSessionManager({ dir: freshDir(), store: store(prefix, { fleetKey: KEY }) });
    const [claimed] = await manager.claimResources('vm', () => [{ kind: 'vm', id: 'vm-9' }]);
    expect(claimed?.id).toBe('vm-9');
    expect(await raw.get(`${prefix}c:vm:fleet:vm-9`)).toMatch(
      new RegExp(`^v2 ${manager.sessionId} .*\\n#hmac-sha256:`),
    );
    await manager.unregisterSession();
  });
});
