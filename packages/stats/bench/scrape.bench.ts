import { formatNs, runBenchTable } from '@tooling/bench';
import { Counter, Gauge, Registry } from 'prom-client';
import { StatsRegistry } from '../src/index.js';
import { METRIC_FAMILIES } from '../src/prometheus.js';

// One scrape of 10 caches × 13 families, three ways: our own text renderer
// (the floor: no prom-client at all), the same trackers added to a
// prom-client registry with registerWith (collectors read at scrape time),
// and the peer — the same values held in prom-client's own Counter/Gauge
// objects with a `cache` label, as a team would write it by hand.
const CACHES = Array.from({ length: 10 }, (_, i) => `cache-${i}`);

const stats = new StatsRegistry();
for (const [i, name] of CACHES.entries()) {
  const tracker = stats.tracker(name, { costPerInference: 0.002 });
  for (let k = 0; k <= i * 10; k++) await tracker.recordHit();
  for (let k = 0; k <= i; k++) await tracker.recordMiss({ isExpired: k % 2 === 0 });
}

const bridged = new Registry();
stats.registerWith(bridged);
const bridgedOpenMetrics = new Registry();
bridgedOpenMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
stats.registerWith(bridgedOpenMetrics);

const native = new Registry();
for (const family of METRIC_FAMILIES) {
  const Metric = family.type === 'counter' ? Counter : Gauge;
  const metric = new Metric({
    name: family.name,
    help: family.help,
    labelNames: ['cache'],
    registers: [native],
  });
  for (const name of CACHES) {
    const value = family.value(stats.get(name)!);
    if (metric instanceof Counter) metric.inc({ cache: name }, value);
    else metric.set({ cache: name }, value);
  }
}

const FLOOR = 'StatsRegistry.metrics() — our text, no prom-client';
const OURS = 'registerWith + prom-client registry.metrics()';
const OURS_OM = 'registerWith + registry.metrics() — OpenMetrics';
const PEER = 'prom-client Counter/Gauge objects, registry.metrics()';

let bytes = 0;
await runBenchTable({
  title: '@core/stats — one scrape of 10 caches × 13 families',
  cases: [
    {
      name: FLOOR,
      floor: true,
      fn: () => {
        bytes += stats.metrics().length;
      },
    },
    {
      name: OURS,
      fn: async () => {
        bytes += (await bridged.metrics()).length;
      },
    },
    {
      name: OURS_OM,
      fn: async () => {
        bytes += (await bridgedOpenMetrics.metrics()).length;
      },
    },
    {
      name: PEER,
      fn: async () => {
        bytes += (await native.metrics()).length;
      },
    },
  ],
  goals: [
    {
      label: 'a scrape through registerWith within 10% of prom-client holding the values itself',
      check: (r) => {
        const ours = r.get(OURS)!.nsPerOp;
        const theirs = r.get(PEER)!.nsPerOp;
        return { ok: ours <= theirs * 1.1, measured: `${formatNs(ours)} vs ${formatNs(theirs)}` };
      },
    },
  ],
});
if (bytes < 0) console.log('unreachable');
