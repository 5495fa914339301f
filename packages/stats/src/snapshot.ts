import { z } from 'zod';
import { type SnapshotProblem, StatsSnapshotError } from './errors.js';

/** Everything a tracker counts, as returned by `getSnapshot()` and accepted by `restore()`. */
export interface StatsSnapshot {
  /** Queries answered from the cache. */
  readonly cacheHits: number;
  /** Queries the cache could not answer (including expired and uninitialized ones). */
  readonly cacheMisses: number;
  /** Misses because the entry had expired (a subset of `cacheMisses`). */
  readonly cacheExpired: number;
  /** Every query: `cacheHits + cacheMisses`. */
  readonly totalQueries: number;
  /** Misses because the cache was not initialized yet (a subset of `cacheMisses`, disjoint from `cacheExpired`). */
  readonly queriesWhileUninitialized: number;
  /** US dollars of inference saved by hits (exact decimal sum, as the nearest Number). */
  readonly costSavedUsd: number;
  /** Expired entries removed by successful cleanups. */
  readonly expiredEntriesCleaned: number;
  /** Cleanup runs, successful or not. */
  readonly cleanupRuns: number;
  /** Failed cleanups. */
  readonly cleanupErrors: number;
  /** `validateConsistency` calls that found an issue. */
  readonly consistencyViolations: number;
  /** Fields changed by healing. */
  readonly autoHealCount: number;
  /** When `validateConsistency` last ran (epoch ms), `null` if never. */
  readonly lastConsistencyCheck: number | null;
  /** Seconds since the tracker was created or last reset. */
  readonly uptimeSeconds: number;
}

/**
 * What `restore`/`fromSnapshot` accept: a snapshot whose bookkeeping fields
 * may be left out (they then start at 0 / `null`; `uptimeSeconds` is ignored).
 */
export type StatsSnapshotInput = Omit<
  StatsSnapshot,
  'consistencyViolations' | 'autoHealCount' | 'lastConsistencyCheck' | 'uptimeSeconds'
> &
  Partial<
    Pick<StatsSnapshot, 'consistencyViolations' | 'autoHealCount' | 'lastConsistencyCheck' | 'uptimeSeconds'>
  >;

// Counters accept any finite number: a negative, fractional or drifted value
// breaks an invariant and is validateConsistency's to heal, not a type error.
// (zod 4's z.number() rejects NaN and ±Infinity, which JSON cannot carry either.)
const counter = z.number();
const bookkeepingCount = z.number().int().nonnegative().optional();

const snapshotSchema = z.object({
  cacheHits: counter,
  cacheMisses: counter,
  cacheExpired: counter,
  totalQueries: counter,
  queriesWhileUninitialized: counter,
  costSavedUsd: counter,
  expiredEntriesCleaned: counter,
  cleanupRuns: counter,
  cleanupErrors: counter,
  consistencyViolations: bookkeepingCount,
  autoHealCount: bookkeepingCount,
  lastConsistencyCheck: z.number().nullable().optional(),
  uptimeSeconds: z.number().nonnegative().optional(),
});

/** A parsed snapshot with the bookkeeping defaults filled in. */
export interface ParsedSnapshot extends Omit<StatsSnapshot, 'uptimeSeconds'> {}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `number ${value}`;
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Checks the type and shape of a snapshot (zod) and fills in the optional
 * bookkeeping fields.
 *
 * @throws StatsSnapshotError naming every bad field, e.g. `cacheHits: expected number, got string "12"`.
 */
export function parseSnapshot(input: unknown): ParsedSnapshot {
  const result = snapshotSchema.safeParse(input);
  if (!result.success) {
    const problems: SnapshotProblem[] = result.error.issues.map((issue) => {
      const field = issue.path.length === 0 ? '(snapshot)' : issue.path.map(String).join('.');
      const value = valueAt(input, issue.path);
      let expected: string;
      if (issue.code !== 'invalid_type') expected = issue.message.replace(/^[^:]*: expected /, '');
      else if (issue.expected === 'int') expected = 'an integer';
      else if (issue.expected === 'number' && typeof value === 'number') expected = 'a finite number';
      else expected = issue.expected;
      const problem = `expected ${expected}, got ${describeValue(value)}`;
      return { field, problem };
    });
    throw new StatsSnapshotError(problems, { cause: result.error });
  }
  const s = result.data;
  return {
    cacheHits: s.cacheHits,
    cacheMisses: s.cacheMisses,
    cacheExpired: s.cacheExpired,
    totalQueries: s.totalQueries,
    queriesWhileUninitialized: s.queriesWhileUninitialized,
    costSavedUsd: s.costSavedUsd,
    expiredEntriesCleaned: s.expiredEntriesCleaned,
    cleanupRuns: s.cleanupRuns,
    cleanupErrors: s.cleanupErrors,
    consistencyViolations: s.consistencyViolations ?? 0,
    autoHealCount: s.autoHealCount ?? 0,
    lastConsistencyCheck: s.lastConsistencyCheck ?? null,
  };
}
