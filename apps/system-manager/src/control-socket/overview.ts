// The `overview` answer: every service's state and its cache counters in one
// reply, for a live view that polls. The manager builds it from its own
// state; the CLI parses it like any other outside input (bounded, typed).
import { z } from 'zod';

const serviceRow = z.object({
  name: z.string().max(128),
  state: z.string().max(32),
  health: z.string().max(32),
  pid: z.number().int().positive().nullable(),
  port: z.number().int().min(0).max(65_535).nullable(),
  startedAt: z.number().nullable(),
  restarts: z.number().int().min(0),
  /** Who holds it stopped (an operator's `stop`), else null. */
  stoppedBy: z.string().max(256).nullable(),
});

const cacheCounters = z.object({
  hits: z.number().int().min(0),
  misses: z.number().int().min(0),
});

/** What `overview` answers. */
export const overviewSchema = z.object({
  /** The manager's clock when it answered (epoch ms). */
  at: z.number(),
  services: z.array(serviceRow).max(1_000),
  /** Cache counters by service, for the services that report cache events. */
  caches: z.record(z.string().max(128), cacheCounters),
});

/** What `overview` answers. */
export type Overview = z.infer<typeof overviewSchema>;
/** One service in an {@link Overview}. */
export type OverviewService = Overview['services'][number];
/** Cache counters of one service in an {@link Overview}. */
export type CacheCounters = z.infer<typeof cacheCounters>;
