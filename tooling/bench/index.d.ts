export interface BenchCase {
  /** Row label. */
  name: string;
  /** The operation; may return a promise, which is awaited. */
  fn: () => unknown;
  /** Marks the floor row that every other row is compared with. */
  floor?: boolean;
  setup?: () => unknown;
  teardown?: () => unknown;
  batchMs?: number;
  rounds?: number;
}
export interface BenchResult {
  name: string;
  /** Median over rounds of (batch time / batch size). */
  nsPerOp: number;
  opsPerSec: number;
  p10: number;
  p90: number;
  batch: number;
  rounds: number;
}
export interface BenchGoal {
  label: string;
  check: (results: Map<string, BenchResult>) => { ok: boolean; measured: string };
}
export interface BenchTableOptions {
  title: string;
  cases: BenchCase[];
  goals?: BenchGoal[];
  /** Target wall time of one batch (default 20 ms). */
  batchMs?: number;
  /** Batches per case; the median is reported (default 25). */
  rounds?: number;
}
export declare function formatNs(ns: number): string;
export declare function runBenchTable(
  options: BenchTableOptions,
): Promise<{ results: Map<string, BenchResult>; allMet: boolean }>;
