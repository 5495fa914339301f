// The faults of the ownership run, on a schedule scaled to the run's length
// (fractions of it), running side by side:
// - workers SIGKILLed at random every 7–12 % of the run (each replaced);
// - a worker SIGSTOPped in the middle of a VM cleanup, and later a worker
//   at random, each until the server dropped its lease (its TTL ran out)
//   and the fleet took its session over — then SIGCONTed;
// - the worker behind the proxies cut off the same way, then healed;
// - kill -9 of the etcd leader (restarted), kill -9 of a follower
//   (restarted), and a member SIGSTOPped for three election timeouts.
// Timed waits here only decide when a fault begins and how long a member
// fault lasts; whether a lease ran out or a session was taken over is read
// from the server and the workers' histories, with generous time-outs.
import type { Etcd3 } from 'etcd3';
import type { EtcdCluster, EtcdMember } from '../etcd-cluster.js';
import type { TcpProxy } from '../tcp-proxy.js';
import type { Fleet, Worker } from './fleet.js';

export interface NemesisContext {
  readonly fleet: Fleet;
  readonly cluster: EtcdCluster;
  readonly proxies: readonly TcpProxy[];
  /** A client of the test's own, to ask the server about leases. */
  readonly observer: Etcd3;
  readonly runMs: number;
  readonly leaseTtlMs: number;
  readonly startedAt: number;
  /** Aborted when the run's time is up: waits end, faults are undone. */
  readonly signal: AbortSignal;
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Polls `check` until it holds (true), `timeoutMs` passed or `signal` aborted (false). */
async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, signal: AbortSignal) {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100, signal);
  }
  return false;
}

const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];

/** Runs every fault track until the signal aborts; undoes what is in effect before it resolves. */
export async function runNemesis(ctx: NemesisContext): Promise<void> {
  await Promise.all([
    killer(ctx),
    isolate(ctx, 0.12, 'pause', true),
    cutOff(ctx),
    isolate(ctx, 0.6, 'pause', false),
    clusterFaults(ctx),
  ]);
}

/** Until `fraction` of the run has passed. @returns false when the run ended first */
async function at(ctx: NemesisContext, fraction: number): Promise<boolean> {
  await sleep(ctx.startedAt + fraction * ctx.runMs - Date.now(), ctx.signal);
  return !ctx.signal.aborted;
}

async function killer(ctx: NemesisContext): Promise<void> {
  if (!(await at(ctx, 0.08))) return;
  while (!ctx.signal.aborted && Date.now() < ctx.startedAt + 0.88 * ctx.runMs) {
    const victim = pick(ctx.fleet.live());
    if (victim) await ctx.fleet.kill(victim);
    await sleep(ctx.runMs * (0.07 + Math.random() * 0.05), ctx.signal);
  }
}

/** Whether the server no longer has the worker's lease (its TTL ran out). */
async function leaseGone(ctx: NemesisContext, worker: Worker): Promise<boolean> {
  const id = ctx.fleet.leaseOf(worker);
  if (id === null) return false;
  try {
    const reply = await ctx.observer.leaseClient.leaseTimeToLive(
      { ID: id },
      { deadline: Date.now() + 1_000 },
    );
    return Number(reply.TTL) < 0;
  } catch {
    return false; // the cluster is busy with a fault of its own: asked again
  }
}

/**
 * Cuts the worker behind the proxies off; when that did not outlast its lease
 * (on a loaded machine the cluster may not answer the lease check in time, or
 * the worker was killed first), once more later in the run.
 */
async function cutOff(ctx: NemesisContext): Promise<void> {
  if (await isolate(ctx, 0.35, 'cut', false)) return;
  await isolate(ctx, 0.7, 'cut', false);
}

/**
 * Pauses a worker (or cuts the one behind the proxies off) until its lease
 * ran out and the fleet took its session over — and, with `midCleanup`,
 * until the session it was cleaning was taken over again by another reaper
 * — then lets it go on. Undone when the run ends first.
 * @returns whether it lasted until the server dropped the lease
 */
async function isolate(
  ctx: NemesisContext,
  fraction: number,
  how: 'pause' | 'cut',
  midCleanup: boolean,
): Promise<boolean> {
  if (!(await at(ctx, fraction))) return false;
  const { fleet, signal } = ctx;
  let victim: Worker | undefined;
  let target: string | undefined;
  if (how === 'cut') {
    await waitFor(
      () => {
        victim = fleet.live().find((w) => w.proxied);
        return victim !== undefined;
      },
      ctx.runMs * 0.1,
      signal,
    );
  } else if (midCleanup) {
    const since = Date.now();
    await waitFor(
      () => {
        const found = fleet.cleaning(since);
        [victim, target] = [found?.worker, found?.target];
        return found !== undefined;
      },
      ctx.runMs * 0.15,
      signal,
    );
  }
  victim ??= pick(fleet.live().filter((w) => !w.proxied));
  const session = victim && fleet.sessionOf(victim);
  if (victim === undefined || session === undefined || signal.aborted) return false;
  const began = Date.now();
  if (how === 'pause') fleet.pause(victim);
  else {
    victim.faulted = true;
    for (const proxy of ctx.proxies) proxy.cut();
    fleet.note({ fault: 'cut', worker: victim.id });
  }
  let pastTtl = false;
  try {
    const caught = victim;
    pastTtl = await waitFor(() => leaseGone(ctx, caught), ctx.leaseTtlMs + 20_000, signal);
    await waitFor(
      () =>
        fleet.takenOver(session, began) && (target === undefined || fleet.takenOver(target, began, caught)),
      20_000,
      signal,
    );
  } finally {
    if (how === 'pause') fleet.resume(victim, pastTtl);
    else {
      for (const proxy of ctx.proxies) proxy.heal();
      fleet.note({ fault: 'heal', worker: victim.id, pastTtl });
      victim.faulted = false;
    }
  }
  return pastTtl;
}

async function clusterFaults(ctx: NemesisContext): Promise<void> {
  const { cluster, fleet } = ctx;
  const healthy = () => cluster.waitHealthy(30_000);
  // etcdctl answers slowly on a loaded machine: asked again until the cluster names its leader.
  const leaderNow = async (): Promise<EtcdMember> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await cluster.leader();
      } catch (error) {
        if (attempt >= 40) throw error;
        await healthy();
      }
    }
  };
  const killAndRestart = async (member: EtcdMember) => {
    await cluster.kill(member);
    fleet.note({ fault: 'member-kill', member: member.name });
    try {
      await sleep(2_000, ctx.signal);
    } finally {
      await cluster.restart(member);
      fleet.note({ fault: 'member-restart', member: member.name });
      await healthy();
    }
  };
  if (!(await at(ctx, 0.2))) return;
  await killAndRestart(await leaderNow());
  if (!(await at(ctx, 0.45))) return;
  const leader = await leaderNow();
  await killAndRestart(cluster.members.find((m) => m !== leader) as EtcdMember);
  if (!(await at(ctx, 0.7))) return;
  const paused = await leaderNow();
  cluster.pause(paused);
  fleet.note({ fault: 'member-pause', member: paused.name });
  try {
    await sleep(1_500, ctx.signal); // three election timeouts (500 ms): the others elect a leader
  } finally {
    cluster.resume(paused);
    fleet.note({ fault: 'member-resume', member: paused.name });
  }
  await healthy();
}
