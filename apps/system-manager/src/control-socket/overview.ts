// The `overview` answer: every service's state and its cache counters in one
// reply, for a live view that polls. The manager builds it from its own
// state; the CLI parses it like any other outside input (bounded, typed).
// zod/mini, as response.ts: `top` is bundled and loads no full zod.
import * as z from 'zod/mini';

const count = z.int().check(z.minimum(0));

const serviceRow = z.object({
  name: z.string().check(z.maxLength(128)),
  state: z.string().check(z.maxLength(32)),
  health: z.string().check(z.maxLength(32)),
  pid: z.nullable(z.int().check(z.positive())),
  port: z.nullable(z.int().check(z.minimum(0), z.maximum(65_535))),
  startedAt: z.nullable(z.number()),
  restarts: count,
  /** Who holds it stopped (an operator's `stop`), else null. */
  stoppedBy: z.nullable(z.string().check(z.maxLength(256))),
});

const cacheCounters = z.object({ hits: count, misses: count });

/** What `overview` answers. */
export const overviewSchema = z.object({
  /** The manager's clock when it answered (epoch ms). */
  at: z.number(),
  services: z.array(serviceRow).check(z.maxLength(1_000)),
  /** Cache counters by service, for the services that report cache events. */
  caches: z.record(z.string().check(z.maxLength(128)), cacheCounters),
});

/** What `overview` answers. */
export type Overview = z.infer<typeof overviewSchema>;
/** One service in an {@link Overview}. */
export type OverviewService = Overview['services'][number];
/** Cache counters of one service in an {@link Overview}. */
export type CacheCounters = z.infer<typeof cacheCounters>;
