// The etcd store measured side by side with what it is built on, in one run
// on one 3-member etcd cluster (started here on free loopback ports, data in
// a temp dir removed at the end):
// (a) 8 processes × N register+unregister cycles at once vs 8 processes × N
//     pairs of bare etcd transactions of the same shape (bench/fleet.ts);
// (b) one session's cycle with 5,000 other live sessions in the store vs 10
//     (bench/crowd.ts);
// (c) reaping a dead host's 1,000 VMs with a cleanup that spawns /bin/true
//     vs 1,000 bare spawns at the same concurrency (bench/reap-host.ts).
// SESSION_ETCD_BENCH_CYCLES / _ROUNDS scale (a); the whole run takes about
// two minutes on two cores.

import { fmt, median, onInterrupt } from '@tooling/session-bench';
import { Etcd3 } from 'etcd3';
import { startEtcdCluster } from '../test/etcd-cluster.js';
import { compareCrowds } from './crowd.js';
import { compareFleets, type FleetRun } from './fleet.js';
import { compareReaping } from './reap-host.js';

const PROCESSES = 8;
const CYCLES = Number(process.env['SESSION_ETCD_BENCH_CYCLES'] ?? 100);
const ROUNDS = Number(process.env['SESSION_ETCD_BENCH_ROUNDS'] ?? 3);
const CROWD = { small: 10, large: 5_000, cycles: 100, rounds: 3 };
const REAP = { sessions: 50, vmsEach: 20, concurrency: 8, rounds: 3 };

const cluster = await startEtcdCluster();
onInterrupt(() => cluster.dispose());
const raw = new Etcd3({ hosts: [...cluster.endpoints] });
const range = (ratios: number[]) =>
  `rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;

try {
  const began = Date.now();
  const say = (what: string) =>
    process.stderr.write(`  ${((Date.now() - began) / 1000).toFixed(0).padStart(3)} s  ${what} …\n`);
  say(`(a) ${PROCESSES} processes × ${CYCLES} cycles, ${ROUNDS} interleaved rounds`);
  const fleets = await compareFleets(raw, cluster.endpoints, {
    processes: PROCESSES,
    cycles: CYCLES,
    rounds: ROUNDS,
  });
  say(`(b) one session's cycle among ${CROWD.small}, then ${fmt(CROWD.large)} live sessions`);
  const crowds = await compareCrowds(cluster.endpoints, CROWD);
  say(
    `(c) reaping ${fmt(REAP.sessions * REAP.vmsEach)} VMs vs bare spawns, ${REAP.rounds} interleaved rounds`,
  );
  const reaping = await compareReaping(raw, cluster.endpoints, REAP);
  say('done');

  const rate = (runs: FleetRun[]) => median(runs.map((r) => r.cyclesPerSec));
  const fleetRatio = median(fleets.ratios);
  const lost = fleets.store.reduce((sum, r) => sum + r.lost, 0);
  const crowdRatio = crowds.large.msPerCycle / crowds.small.msPerCycle;
  const reapRatio = median(reaping.ratios);
  const met = (ok: boolean) => (ok ? 'yes' : '**no**');

  console.log(
    '### @core/session-etcd — against the floor, 3-member etcd cluster on loopback (one run of `pnpm bench`)\n',
  );
  console.log('| | ours | against | ratio | goal | met |');
  console.log('|---|---:|---:|---:|---|:---:|');
  console.log(
    `| (a) ${PROCESSES} processes × ${CYCLES} register+unregister cycles at once (cycles/s, all processes) vs ${PROCESSES} processes × ${CYCLES} pairs of bare etcd transactions of the same shape | ${fmt(rate(fleets.store))} | ${fmt(rate(fleets.floor))} | ${fleetRatio.toFixed(2)}× (${range(fleets.ratios)}) | ≥ 0.5× | ${met(fleetRatio >= 0.5)} |`,
  );
  console.log(
    `| (b) one register+unregister cycle (ms) with ${fmt(CROWD.large)} live sessions in the store vs with ${CROWD.small} | ${crowds.large.msPerCycle.toFixed(2)} | ${crowds.small.msPerCycle.toFixed(2)} | ${crowdRatio.toFixed(2)}× | ≤ 2× | ${met(crowdRatio <= 2)} |`,
  );
  console.log(
    `| (c) reaping a dead host's ${fmt(reaping.vms)} VMs (${reaping.sessions} sessions), cleanup spawns \`/bin/true\`, concurrency ${REAP.concurrency} (s) vs ${fmt(reaping.vms)} bare spawns at concurrency ${REAP.concurrency} | ${median(reaping.reap).toFixed(2)} | ${median(reaping.bare).toFixed(2)} | ${reapRatio.toFixed(2)}× (${range(reaping.ratios)}) | ≤ 1.3× | ${met(reapRatio <= 1.3)} |`,
  );
  console.log('');
  console.log(
    `(a) median of ${ROUNDS} interleaved rounds, × = median of the per-round ratios; CPU per cycle of one process: ours ${fmt(median(fleets.store.map((r) => r.cpuPerCycleUs)))} µs, floor ${fmt(median(fleets.floor.map((r) => r.cpuPerCycleUs)))} µs; writes lost: ${lost} of ${fmt(fleets.writes)}${lost === 0 ? '' : ' (**not 0**)'}.`,
  );
  console.log(
    `(b) median of ${CROWD.rounds} rounds of ${CROWD.cycles} cycles each, one after the other (rounds: ${crowds.small.rounds.map((r) => r.toFixed(2)).join(', ')} ms with ${CROWD.small}; ${crowds.large.rounds.map((r) => r.toFixed(2)).join(', ')} ms with ${fmt(CROWD.large)}); CPU per cycle of the cycling process: ${fmt(crowds.small.cpuPerCycleUs)} µs vs ${fmt(crowds.large.cpuPerCycleUs)} µs.`,
  );
  console.log(
    `(c) median of ${REAP.rounds} interleaved rounds, × = median of the per-round ratios (reap ${reaping.reap.map((s) => s.toFixed(2)).join(', ')} s; bare ${reaping.bare.map((s) => s.toFixed(2)).join(', ')} s).`,
  );
} finally {
  raw.close();
  await cluster.dispose();
}
