// Ownership under faults, Jepsen-style. 8 worker processes
// (fixtures/ownership-worker.ts) on 2 simulated hosts — 4 each, with their
// own hostname and host identity, so across hosts only the lease decides —
// run for 60 s (SESSION_ETCD_OWNERSHIP_MS shortens it for local runs)
// against a real 3-member etcd cluster. Each makes a session, creates VMs at
// a fake cloud and registers them, claims and releases ports of its host
// (claimResources: claims by transaction), and reaps dead sessions every
// ~1.5 s with a fenced cleanup whose VM deletes carry the fencing token (the
// cloud refuses a token lower than one it has seen). Meanwhile
// (ownership/nemesis.ts): SIGKILLs at random with replacements; SIGSTOPs past
// the lease TTL, one in the middle of a VM cleanup; the worker behind the
// proxies cut off past its TTL; kill -9 of the leader and of a follower
// (restarted); the leader SIGSTOPped past an election. Then every worker is
// killed, a reaper of the test's own drains what is left (ownership/drain.ts),
// and the checker (ownership/checker.ts) judges every history.
//
// Definitions. All processes share one clock. An operation is acknowledged
// when its caller got a success reply (a `done` line with `ack: true`); its
// effect happened between its `invoke` line and that reply. A worker is dead
// only by the test's doing (ownership/liveness.ts): from its SIGKILL; or,
// paused or cut off past its lease TTL, from the moment its lease could first
// have run out on the server (the latest expiry the server had confirmed to
// it) until it took a new lease because nobody had reaped it meanwhile. A
// slow worker is alive. A hold of a port runs from the acquire's
// acknowledgement to the first moment it may have ended: its release
// invoked, its holder's death, or a lost lease (at that lease's confirmed
// expiry). A cleanup of a VM is one reaper's attempt under its take-over's
// fencing token; it is acknowledged when the cloud accepted it (deleted, or
// already gone) and the same take-over's finish, which removes the VM from
// the record, was acknowledged. Until then another reaper may try again —
// the VM is still recorded, and a reaper that died after the cloud but before
// its finish leaves exactly that; after it, no one may.
//
// Invariants, 0 violations expected:
// (1) No port held by two live owners at overlapping times: holds of one
//     port by different sessions never overlap, and no acquire is
//     acknowledged while its worker is dead.
// (2) No cleanup of a resource whose owner was alive at that token: while
//     the owner is alive, no take-over of its session is acknowledged, no
//     cleanup of its resources begins, and the cloud deletes none of its VMs.
// (3) Every acknowledged VM is still recorded at the end (in some session's
//     record) or was cleaned exactly once: never neither; the cloud deleted
//     it at most once; at most one cleanup of it was acknowledged and none
//     began after that; a superseded reaper did not clean it — no cleanup
//     under token T got past the fencing check if its check began after a
//     take-over of the same session with a higher token was acknowledged
//     (and at the cloud, by (4)); no session registered a VM after its
//     take-over was acknowledged.
// (4) Fencing tokens strictly increasing per resource: of two take-overs of
//     one session, or two claims of one port (the claim's revision), the one
//     acknowledged before the other began has the lower token; the cloud
//     accepted cleanups of a VM in strictly increasing token order and
//     refused only lower ones.
//
// What fencing guarantees when a paused reaper resumes: its mark went with
// its lease and a newer reaper took over with a higher token. Its cleanups
// already past the check reach the cloud with the old token and are refused
// if the newer token got there first (if not, the VM is deleted once and the
// newer reaper finds it gone); its next check fails ("superseded") and its
// finish is refused. Its own session, if reaped meanwhile, refuses its
// writes; if not, it takes a new lease, and its claims went with the old one.
//
// SESSION_ETCD_OWNERSHIP_REPORT=1 prints the checker's report;
// SESSION_ETCD_OWNERSHIP_SAVE=<file> writes the whole history there (JSON).
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { freshPrefix } from './helpers.js';
import { checkHistory } from './ownership/checker.js';
import { drain } from './ownership/drain.js';
import { type FakeCloud, startFakeCloud } from './ownership/fake-cloud.js';
import { Fleet } from './ownership/fleet.js';
import type { WorkerLine } from './ownership/history.js';
import { runNemesis } from './ownership/nemesis.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

const RUN_MS = Number(process.env['SESSION_ETCD_OWNERSHIP_MS'] ?? 60_000);
// A 5 s TTL with a keepalive every second: a worker loses its lease only if
// it cannot reach the cluster for 4 s — the faults here do that on purpose;
// a loaded machine should not.
const TIMING = {
  leaseTtlMs: 5_000,
  heartbeatMs: 1_000,
  commandTimeoutMs: 1_500,
  unavailableTimeoutMs: 8_000,
  reapEveryMs: 1_500,
};

/** Everything started here, stopped in reverse order once, pass or fail. */
const undo: (() => Promise<unknown> | unknown)[] = [];
async function stopEverything(): Promise<void> {
  while (undo.length > 0) {
    try {
      await undo.pop()?.();
    } catch {
      // the rest is stopped all the same
    }
  }
}

describe.skipIf(SKIP_REASON !== null)('ownership under faults (a Jepsen-style check)', () => {
  afterAll(stopEverything);

  it(`8 workers on 2 hosts for ${RUN_MS / 1000} s through kills, pauses, a partition and cluster faults: 0 violations`, {
    timeout: RUN_MS + 90_000,
  }, async () => {
    onTestFinished(stopEverything);
    const began = Date.now();
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'session-etcd-ownership-')));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    const cluster: EtcdCluster = await startEtcdCluster();
    undo.push(() => cluster.dispose());
    const cloud: FakeCloud = await startFakeCloud();
    undo.push(() => cloud.close());
    const proxies: TcpProxy[] = [];
    for (const member of cluster.members) proxies.push(await startProxy(member.clientPort));
    undo.push(() => Promise.all(proxies.map((p) => p.close())));
    const observer = new Etcd3({ hosts: [...cluster.endpoints] });
    undo.push(() => observer.close());
    const prefix = freshPrefix();
    const fleet = new Fleet({
      dir,
      endpoints: cluster.endpoints,
      proxied: proxies.map((p) => p.endpoint),
      prefix,
      cloud: cloud.url,
      timing: TIMING,
      slots: 8,
    });
    undo.push(() => fleet.stopAll());
    await fleet.start();

    const startedAt = Date.now();
    const end = new AbortController();
    const nemesis = runNemesis({
      fleet,
      cluster,
      proxies,
      observer,
      runMs: RUN_MS,
      leaseTtlMs: TIMING.leaseTtlMs,
      startedAt,
      signal: end.signal,
    });
    // On a failure or a time-out, the faults are undone (members restarted, workers resumed) before the rest stops.
    undo.push(async () => {
      end.abort();
      await nemesis.catch(() => undefined);
    });
    await new Promise((resolve) => setTimeout(resolve, RUN_MS)); // the run's length, not a synchronisation
    end.abort();
    const runEnded = Date.now();
    await nemesis;
    await fleet.stopAll();
    await cluster.waitHealthy(30_000);
    const recordedAtEnd = await drain({
      endpoints: cluster.endpoints,
      prefix,
      cloud: cloud.url,
      log: join(dir, 'drain.jsonl'),
      dir: join(dir, 'drain'),
      leaseTtlMs: TIMING.leaseTtlMs,
      heartbeatMs: TIMING.heartbeatMs,
    });

    const lines = readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as WorkerLine);
    const history = { lines, faults: fleet.faults, cloud: cloud.events, recordedAtEnd, endedAt: Date.now() };
    const report = checkHistory(history);
    const save = process.env['SESSION_ETCD_OWNERSHIP_SAVE'];
    if (save) writeFileSync(save, JSON.stringify(history));
    if (process.env['SESSION_ETCD_OWNERSHIP_REPORT'])
      process.stderr.write(
        `${report.text}\nrun ${RUN_MS / 1000} s, whole test ${((Date.now() - began) / 1000).toFixed(1)} s\n`,
      );

    expect(fleet.problems).toEqual([]);
    expect(report.violations, report.text).toEqual([]);
    expect(recordedAtEnd, 'the drain left records behind').toEqual([]);
    // The run did what it says: otherwise 0 violations proves little.
    // Kills before the run ended (the end kills every worker); pauses and cuts end after it at the latest.
    const faults = (kind: string, pastTtl?: boolean) =>
      fleet.faults.filter(
        (f) =>
          f.fault === kind &&
          (kind !== 'kill' || f.at < runEnded) &&
          (pastTtl === undefined || f.pastTtl === pastTtl),
      ).length;
    expect(faults('kill'), report.text).toBeGreaterThanOrEqual(3);
    expect(faults('resume', true), report.text).toBeGreaterThanOrEqual(1);
    expect(faults('heal', true), report.text).toBeGreaterThanOrEqual(1);
    expect(faults('member-kill'), report.text).toBe(2);
    expect(faults('member-pause'), report.text).toBe(1);
    expect(report.ops.takeover.ok, report.text).toBeGreaterThanOrEqual(3);
    expect(cloud.events.filter((e) => e.result === 'deleted').length, report.text).toBeGreaterThan(0);
  });
});
