import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadPid, freshDir } from '../../test/helpers.js';
import type { SessionOwner } from '../contract.js';
import { readHostIdentity } from '../host.js';
import { readProcessStartTime } from '../process.js';
import { judgeLiveness } from '../staleness.js';
import { claimName, successorName } from './layout.js';
import { FileSessionStore } from './store.js';

const host = readHostIdentity();
const owner = (sessionId: string, alive: boolean): SessionOwner => ({
  sessionId,
  pid: alive ? process.pid : deadPid(),
  hostname: host.hostname,
  hostId: host.id,
  processStartTime: alive ? readProcessStartTime(process.pid) : '1',
  createdAt: Date.now(),
});
const holderIsDead = (holder: SessionOwner) =>
  judgeLiveness(holder, { now: Date.now(), maxAgeMs: 3_600_000, host, lease: 'none' }).liveness === 'dead';

function plantClaim(store: FileSessionStore, file: string, holder: SessionOwner, nonce: string): void {
  const claim = {
    format: 'core-session-claim',
    kind: 'port',
    id: '8080',
    nonce,
    holder,
    claimedAt: Date.now(),
  };
  writeFileSync(join(store.layout.claimsDir, file), JSON.stringify(claim));
}

describe('file-store claims', () => {
  it('a dead claimant that won the right to take over and died is itself taken over', async () => {
    const store = new FileSessionStore({ dir: freshDir() });
    const name = claimName('port', '8080', host.id);
    plantClaim(store, name, owner('dead-holder', false), 'aaaaaaaa');
    plantClaim(store, successorName(name, 'aaaaaaaa'), owner('dead-claimant', false), 'bbbbbbbb');
    const me = owner('me', true);
    const outcome = await store.claim({ kind: 'port', id: '8080', owner: me, holderIsDead });
    expect(outcome).toMatchObject({ ok: true, takenOverFrom: { sessionId: 'dead-holder' } });
    expect((await store.listClaims('port')).map((c) => c.holder.sessionId)).toEqual(['me']);
    // The successor chain is cleaned up.
    expect(readdirSync(store.layout.claimsDir).filter((n) => n.includes('.next-'))).toEqual([]);
  });

  it('a live claimant holding the right wins: we back off', async () => {
    const store = new FileSessionStore({ dir: freshDir() });
    const name = claimName('port', '8080', host.id);
    plantClaim(store, name, owner('dead-holder', false), 'aaaaaaaa');
    plantClaim(store, successorName(name, 'aaaaaaaa'), owner('live-claimant', true), 'bbbbbbbb');
    const outcome = await store.claim({ kind: 'port', id: '8080', owner: owner('me', true), holderIsDead });
    expect(outcome).toMatchObject({ ok: false, holder: { sessionId: 'live-claimant' } });
  });

  it("a reaper releasing a dead holder's claim backs off while a claimant takes it over", async () => {
    const store = new FileSessionStore({ dir: freshDir() });
    store.attach(owner('reaper', true));
    const name = claimName('port', '8080', host.id);
    plantClaim(store, name, owner('dead-holder', false), 'aaaaaaaa');
    plantClaim(store, successorName(name, 'aaaaaaaa'), owner('live-claimant', true), 'bbbbbbbb');
    expect(await store.releaseClaim('port', '8080', 'dead-holder')).toBe(false);
    expect((await store.listClaims('port')).map((c) => c.holder.sessionId)).toEqual(['dead-holder']);
    // Without a claimant in the way, the release goes through.
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(store.layout.claimsDir, successorName(name, 'aaaaaaaa')));
    expect(await store.releaseClaim('port', '8080', 'dead-holder')).toBe(true);
    expect(await store.listClaims('port')).toEqual([]);
  });

  it('host-scoped kinds are claimed per host identity; fleet kinds per directory', () => {
    const store = new FileSessionStore({ dir: freshDir() });
    expect(store.resourceScope('port')).toBe('host');
    expect(store.resourceScope('vm')).toBe('fleet');
    expect(claimName('port', '1', 'a')).not.toBe(claimName('port', '1', 'b'));
  });
});
