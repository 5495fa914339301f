// Faults on the client side, injected for real: a member process paused
// (SIGSTOP) past its lease TTL, a client cut off from the cluster by a
// loopback proxy, and a reaper paused mid-cleanup whose take-over is then
// superseded. The lease's loss surfaces as an event and a readable state;
// what was reaped is never written back; a superseded reaper stops before its
// next step and the new one works under a higher fencing token.
import { spawn } from 'node:child_process';
import { createSessionManager, readHostIdentity } from '@core/session';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { fencedCleanup } from '../src/index.js';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { freshPrefix, recordOf, remoteOwner, startMember, storeOn, tempDir, until } from './helpers.js';
import { startProxy } from './tcp-proxy.js';

describe.skipIf(SKIP_REASON !== null)('EtcdSessionStore through client faults', { timeout: 45_000 }, () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(() => cluster?.dispose());

  it('a member paused past its TTL: on its host its pid keeps it; once back it takes a new lease and its claims again', async () => {
    const prefix = freshPrefix();
    const member = await startMember({ endpoints: cluster.endpoints, prefix, dir: tempDir('session-etcd-') });
    expect(await member.request({ cmd: 'register', ids: ['vm-kept'], claim: true })).toEqual({
      registered: 1,
    });
    const reader = storeOn(cluster.endpoints, prefix);
    const leaseOf = async () =>
      (await reader.listSessions()).find((s) => s.record.sessionId === member.sessionId)?.lease;
    member.child.kill('SIGSTOP');
    try {
      await until(async () => (await leaseOf()) === 'expired', 'the paused member to lose its lease', 8_000);
      expect(await reader.listClaims('vm')).toEqual([]); // the claim went with the lease
      const reaper = createSessionManager({
        dir: tempDir('session-etcd-'),
        store: storeOn(cluster.endpoints, prefix),
      });
      const report = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
      expect(report.sessions).toEqual([]); // its pid is alive here with its start time: live, whatever the lease says
    } finally {
      member.child.kill('SIGCONT');
    }
    await until(
      async () => ((await member.request({ cmd: 'status' }))['renewals'] as string[]).length > 0,
      'the member to take a new lease',
      8_000,
    );
    const status = await member.request({ cmd: 'status' });
    expect(status['renewals']).toEqual(['kept']);
    expect(status['leaseState']).toBe('held');
    expect(status['losses']).toContain('expired');
    expect(await leaseOf()).toBe('held');
    expect((await reader.listClaims('vm')).map((c) => [c.id, c.holder.sessionId, c.lease])).toEqual([
      ['vm-kept', member.sessionId, 'held'],
    ]);
    expect(await member.request({ cmd: 'write' })).toEqual({ written: true });
  });

  it('a member of another host paused past its TTL is reaped; resumed, it cannot write back what was reaped', async () => {
    const prefix = freshPrefix();
    const member = await startMember({
      endpoints: cluster.endpoints,
      prefix,
      dir: tempDir('session-etcd-'),
      remote: true,
    });
    expect(await member.request({ cmd: 'register', ids: ['vm-r1', 'vm-r2'] })).toEqual({ registered: 2 });
    const store = storeOn(cluster.endpoints, prefix);
    const reaper = createSessionManager({ dir: tempDir('session-etcd-'), store });
    member.child.kill('SIGSTOP');
    let cleaned: string[] = [];
    try {
      await until(
        async () => (await store.listSessions())[0]?.lease === 'expired',
        'the paused member to lose its lease',
        8_000,
      );
      const report = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
      cleaned = report.cleaned.map((c) => c.resource.id).sort();
      expect(report.removed).toEqual([member.sessionId]);
    } finally {
      member.child.kill('SIGCONT');
    }
    expect(cleaned).toEqual(['vm-r1', 'vm-r2']);
    expect(await member.request({ cmd: 'write' })).toEqual({ error: 'E_SESSION_TAKEN_OVER' });
    const status = await member.request({ cmd: 'status' });
    expect(status['takenOver']).toBe(true);
    expect(status['renewals']).toContain('taken-over');
    expect(await store.listSessions()).toEqual([]);
  });

  it('a client cut off from the cluster: unconfirmed at once after its TTL, a new lease once healed; a cut-off owner that was reaped stays dead', async () => {
    const proxies = await Promise.all(cluster.members.map((m) => startProxy(m.clientPort)));
    onTestFinished(() => Promise.all(proxies.map((p) => p.close())).then(() => undefined));
    const prefix = freshPrefix();
    const behind = (tag: string) => {
      const owner = remoteOwner(tag);
      const store = storeOn(
        proxies.map((p) => p.endpoint),
        prefix,
      );
      store.attach(owner);
      const events: string[] = [];
      store.on('leaseLost', (loss) => events.push(`lost:${loss.reason}`));
      store.on('leaseRenewed', (renewal) => events.push(`renewed:${renewal.outcome}`));
      return { owner, store, events };
    };
    const kept = behind('kept');
    const reaped = behind('reaped');
    await kept.store.writeRecord(recordOf(kept.owner, ['vm-k'], { claimed: true }));
    await kept.store.claim({ kind: 'vm', id: 'vm-k', owner: kept.owner, holderIsDead: () => false });
    await reaped.store.writeRecord(recordOf(reaped.owner, ['vm-x']));
    const direct = storeOn(cluster.endpoints, prefix);
    for (const proxy of proxies) proxy.cut();
    const cutAt = Date.now();
    await until(
      () => kept.store.leaseState === 'unconfirmed' && kept.events.includes('lost:unconfirmed'),
      'the cut-off lease to go unconfirmed',
      6_000,
    );
    // Within the TTL the server granted, plus one keepalive retry: not etcd3's 2×TTL.
    expect(Date.now() - cutAt).toBeLessThan(kept.store.grantedTtlMs + 1_500);
    // Meanwhile the cluster lets both leases expire; a reaper on the other side takes one session over.
    await until(
      async () => (await direct.listSessions()).every((s) => s.lease === 'expired'),
      'both leases to expire on the server',
      8_000,
    );
    const target = (await direct.listSessions()).find((s) => s.record.sessionId === reaped.owner.sessionId);
    const hold = await direct.takeOver(target as NonNullable<typeof target>, remoteOwner('reaper'));
    await hold?.finish(null);
    for (const proxy of proxies) proxy.heal();
    await until(() => kept.events.includes('renewed:kept'), 'the kept owner to take a new lease', 10_000);
    expect(kept.store.leaseState).toBe('held');
    await kept.store.writeRecord({
      ...recordOf(kept.owner, ['vm-k'], { claimed: true }),
      registeredAt: Date.now(),
    });
    expect((await direct.listClaims('vm')).map((c) => [c.id, c.holder.sessionId, c.lease])).toEqual([
      ['vm-k', kept.owner.sessionId, 'held'],
    ]);
    await expect(reaped.store.writeRecord(recordOf(reaped.owner, ['vm-x']))).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
    });
    expect(reaped.store.takenOver).toBe(true);
    expect(reaped.events).toContain('lost:unconfirmed');
  });

  it('a reaper paused mid-cleanup is superseded: the new one works under a higher token, the old one stops before its next step', async () => {
    const prefix = freshPrefix();
    // The dead session: on this host, its pid gone.
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore', env: process.env });
    await new Promise((resolve) => gone.once('exit', resolve));
    const dead = { ...remoteOwner('dead'), pid: gone.pid as number };
    const deadStore = storeOn(cluster.endpoints, prefix);
    const host = readHostIdentity();
    const deadOwner = { ...dead, hostname: host.hostname, hostId: host.id };
    deadStore.attach(deadOwner);
    await deadStore.writeRecord(recordOf(deadOwner, ['vm-1', 'vm-2']));

    const first = await startMember({ endpoints: cluster.endpoints, prefix, dir: tempDir('session-etcd-') });
    expect(await first.request({ cmd: 'reap' })).toEqual({ reaping: true });
    const started = await first.next();
    expect(started['cleaning']).toBe('vm-1');
    const oldToken = String(started['token']);
    first.child.kill('SIGSTOP');
    const store = storeOn(cluster.endpoints, prefix);
    const second = createSessionManager({ dir: tempDir('session-etcd-'), store });
    let newTokens: string[] = [];
    let removed: readonly string[] = [];
    try {
      await until(
        async () =>
          (await store.listSessions()).find((s) => s.record.sessionId === deadOwner.sessionId)?.reaping ===
          undefined,
        "the paused reaper's mark to go with its lease",
        8_000,
      );
      const tokens: string[] = [];
      const report = await second.reapDeadSessions({
        adopt: false,
        cleanup: fencedCleanup(async (_resource, _owner, fence) => {
          tokens.push(fence.token);
          return { ok: true };
        }),
      });
      newTokens = tokens;
      removed = report.removed;
    } finally {
      first.child.kill('SIGCONT');
    }
    expect(removed).toEqual([deadOwner.sessionId]);
    expect(newTokens).toHaveLength(2);
    expect(new Set(newTokens).size).toBe(1);
    expect(BigInt(newTokens[0] as string)).toBeGreaterThan(BigInt(oldToken));
    // The old reaper's step in flight ends; its next step is refused by the fence and never runs.
    first.child.stdin?.write(`${JSON.stringify({ cmd: 'continue' })}\n`);
    const done = await first.next();
    const reaped = done['reaped'] as { cleaned: string[]; failed: { id: string; detail: string }[] };
    expect(reaped.cleaned).toEqual(['vm-1']);
    expect(reaped.failed.map((f) => f.id)).toEqual(['vm-2']);
    expect(reaped.failed[0]?.detail).toMatch(new RegExp(`fencing token ${oldToken} was superseded`));
    expect(await store.listSessions()).toEqual([]);
  });
});
