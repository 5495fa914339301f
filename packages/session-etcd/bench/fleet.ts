// (a) The etcd store against its physical floor: 8 processes × N
// register+unregister cycles at once (ours) vs. 8 processes × N pairs of bare
// etcd transactions of the same shape (compare the record's modRevision, put
// a record-sized value: the floor), interleaved round by round so each
// round's ratio sees the same machine load. Every write of ours is counted
// on the server (the record key's version: 0 lost).
import { fileURLToPath } from 'node:url';
import { type FleetRun, runFleet } from '@tooling/session-bench';
import type { Etcd3 } from 'etcd3';

export type { FleetRun } from '@tooling/session-bench';

export interface FleetComparison {
  readonly floor: FleetRun[];
  readonly store: FleetRun[];
  /** Per round: store cycles/s ÷ floor cycles/s. */
  readonly ratios: number[];
  readonly writes: number;
}

/** `processes` cycler processes started together; wall time from "go" to the last "done". */
async function fleet(
  raw: Etcd3,
  endpoints: readonly string[],
  mode: 'floor' | 'store',
  prefix: string,
  processes: number,
  cycles: number,
): Promise<FleetRun> {
  return runFleet({
    script: fileURLToPath(new URL('./cycler.ts', import.meta.url)),
    argsOf: (i) => [mode, endpoints.join(','), prefix, String(cycles), `p${i}`],
    processes,
    cycles,
    lostOf: async (sessions) => {
      if (mode !== 'store') return 0;
      let lost = 0;
      for (const id of sessions) {
        // One put registered the permanent VM, then two per cycle: the key's version counts every one.
        const [kv] = (await raw.get(`${prefix}s/${id}`).exec()).kvs;
        lost += 1 + 2 * cycles - Number(kv?.version ?? 0);
      }
      return lost;
    },
  });
}

/** `rounds` rounds of floor and store fleets, back to back, alternating which goes first. */
export async function compareFleets(
  raw: Etcd3,
  endpoints: readonly string[],
  options: { processes: number; cycles: number; rounds: number },
): Promise<FleetComparison> {
  const { processes, cycles, rounds } = options;
  const floor: FleetRun[] = [];
  const store: FleetRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const runFloor = async () =>
      floor.push(await fleet(raw, endpoints, 'floor', `floor-${round}/`, processes, cycles));
    const runStore = async () =>
      store.push(await fleet(raw, endpoints, 'store', `fleet-${round}/`, processes, cycles));
    if (round % 2 === 0) {
      await runFloor();
      await runStore();
    } else {
      await runStore();
      await runFloor();
    }
  }
  const ratios = store.map((run, i) => run.cyclesPerSec / (floor[i] as FleetRun).cyclesPerSec);
  return { floor, store, ratios, writes: processes * cycles * 2 * rounds };
}
