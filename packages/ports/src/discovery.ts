import { type CandidateSource, type PortAttempt, PortExhaustedError } from './errors.js';
import type { ProbeOutcome } from './probe.js';

/** Why a name got the port it has after {@link PortRegistryMembers.resolve}. */
export type ResolutionReason = CandidateSource;

/** What discovery decided for one name. */
export interface PortResolution<N extends string = string> {
  /** The port name. */
  readonly name: N;
  /** The port chosen (now in `ports[name]`). */
  readonly port: number;
  /** The port the name had when resolve() started. */
  readonly preferredPort: number;
  /** `preferred` (kept its port), `fallback` (moved to one of its fallbacks) or `dynamic` (taken from `dynamicRange`). */
  readonly reason: ResolutionReason;
  /** Every candidate tried, in order, the chosen one last (outcome `free`). */
  readonly attempts: readonly PortAttempt[];
}

/** The id of a port reservation in the session registry. */
export function portResourceId(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Inputs of one discovery run. */
export interface DiscoveryInput {
  readonly host: string;
  readonly names: readonly string[];
  readonly current: ReadonlyMap<string, number>;
  readonly fallbacks: ReadonlyMap<string, readonly number[]>;
  readonly dynamicRange: readonly [number, number] | null;
  /** Resource ids (`host:port`) reserved by other live sessions. */
  readonly takenByOthers: ReadonlySet<string>;
  readonly probe: (host: string, port: number) => Promise<ProbeOutcome>;
}

/** How many dynamic-range ports are probed at once. */
const DYNAMIC_BATCH = 16;

/**
 * Chooses a port for every name: its current port when free, else the first
 * free fallback, else the first free port of the dynamic range. Candidates
 * held by another name of the table, or reserved by another session, are
 * skipped without a bind. Candidates of one step are probed concurrently
 * (each port at most once per run) and the first free one in order wins.
 *
 * @throws PortExhaustedError for the first name with no usable candidate.
 */
export async function discoverPorts(input: DiscoveryInput): Promise<PortResolution[]> {
  const { host, names, current, fallbacks, dynamicRange, takenByOthers, probe } = input;
  const working = new Map(current);
  const probes = new Map<number, Promise<ProbeOutcome>>();
  const probeOnce = (port: number): Promise<ProbeOutcome> => {
    let pending = probes.get(port);
    if (pending === undefined) {
      pending = probe(host, port);
      probes.set(port, pending);
    }
    return pending;
  };
  const heldByOther = (name: string, port: number): boolean => {
    for (const [other, p] of working) if (other !== name && p === port) return true;
    return false;
  };
  const outcomeOf = (
    name: string,
    port: number,
  ): ProbeOutcome | 'reserved-by-other-session' | 'used-by-other-name' | Promise<ProbeOutcome> => {
    if (heldByOther(name, port)) return 'used-by-other-name';
    if (takenByOthers.has(portResourceId(host, port))) return 'reserved-by-other-session';
    return probeOnce(port);
  };

  /** Tries `ports` concurrently; records attempts up to the first free one, which it returns. */
  const firstFree = async (
    name: string,
    ports: readonly number[],
    source: CandidateSource,
    attempts: PortAttempt[],
  ): Promise<number | null> => {
    const outcomes = await Promise.all(ports.map((port) => outcomeOf(name, port)));
    for (let i = 0; i < ports.length; i++) {
      const port = ports[i]!;
      const outcome = outcomes[i]!;
      attempts.push({ port, source, outcome });
      if (outcome === 'free') return port;
    }
    return null;
  };

  // The common case is that every current port is free: probe them all at once.
  await Promise.all(names.map((name) => outcomeOf(name, working.get(name)!)));

  const resolutions: PortResolution[] = [];
  for (const name of names) {
    const preferredPort = working.get(name)!;
    const attempts: PortAttempt[] = [];
    const tried = new Set<number>([preferredPort]);
    let reason: CandidateSource = 'preferred';
    let port = await firstFree(name, [preferredPort], 'preferred', attempts);
    if (port === null) {
      reason = 'fallback';
      const candidates = (fallbacks.get(name) ?? []).filter((p) => !tried.has(p));
      for (const p of candidates) tried.add(p);
      port = await firstFree(name, candidates, 'fallback', attempts);
    }
    if (port === null && dynamicRange !== null) {
      reason = 'dynamic';
      const [from, to] = dynamicRange;
      for (let start = from; port === null && start <= to; start += DYNAMIC_BATCH) {
        const batch: number[] = [];
        for (let p = start; p <= Math.min(to, start + DYNAMIC_BATCH - 1); p++)
          if (!tried.has(p)) batch.push(p);
        port = await firstFree(name, batch, 'dynamic', attempts);
      }
    }
    if (port === null) throw new PortExhaustedError(name, host, attempts);
    working.set(name, port);
    resolutions.push({ name, port, preferredPort, reason, attempts });
  }
  return resolutions;
}
