import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSessionManager } from '@core/session';
import { formatNs, runBenchTable } from '@tooling/bench';
import { createPortRegistry, probePort } from '../src/index.js';
import { freePorts, holdAll } from '../test/sockets.js';

// Five names on ports that were free a moment ago; for the busy case each
// name's preferred port and its 4 fallbacks are held by a listening server,
// so resolve() binds 5 × 5 busy candidates before the 5 free ones.
const names = ['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'event_ui'] as const;
const ports = await freePorts(5 * 6);
const defaults = Object.fromEntries(names.map((n, i) => [n, ports[i * 6]!])) as Record<
  (typeof names)[number],
  number
>;
const fallbacks = Object.fromEntries(names.map((n, i) => [n, ports.slice(i * 6 + 1, i * 6 + 6)]));
const busy = names.flatMap((_, i) => ports.slice(i * 6, i * 6 + 5));

let release: (() => Promise<void>) | undefined;
let sink = 0;

// The real session registry, in files under a private temp dir.
const sessionDir = await mkdtemp(join(tmpdir(), 'ports-bench-session-'));
getSessionManager({ dir: sessionDir });

await runBenchTable({
  title: '@core/ports — resolve 5 names on 127.0.0.1 (real binds)',
  batchMs: 50,
  rounds: 15,
  cases: [
    {
      name: 'one bare listen+close probe of a free port',
      floor: true,
      fn: async () => void ((await probePort('127.0.0.1', ports[0]!)) === 'free' && sink++),
    },
    {
      name: 'resolve(): 5 preferred ports free (5 binds)',
      fn: async () => {
        const r = createPortRegistry(defaults, { env: {}, fallbacks });
        sink += (await r.resolve()).ports.main_api.port;
      },
    },
    {
      name: 'naive: 30 sequential probes (25 busy, 5 free), no registry',
      setup: async () => {
        release = await holdAll(busy);
      },
      teardown: async () => {
        await release?.();
      },
      fn: async () => {
        for (let i = 0; i < 5; i++) {
          for (const port of ports.slice(i * 6, i * 6 + 6)) {
            if ((await probePort('127.0.0.1', port)) === 'free') break;
          }
        }
        sink++;
      },
    },
    {
      name: 'resolve(): 5 preferred + 20 fallbacks busy (30 binds)',
      setup: async () => {
        release = await holdAll(busy);
      },
      teardown: async () => {
        await release?.();
      },
      fn: async () => {
        const r = createPortRegistry(defaults, { env: {}, fallbacks });
        const report = await r.resolve();
        if (report.ports.event_ui.reason !== 'fallback') throw new Error('expected a fallback');
        sink += report.ports.main_api.port;
      },
    },
    {
      name: 'resolve({ reserve: true }): 5 free, real @core/session file registry',
      fn: async () => {
        const r = createPortRegistry(defaults, { env: {}, fallbacks });
        const report = await r.resolve({ reserve: true });
        if (!report.reserved) throw new Error('expected a reservation');
        sink += report.ports.main_api.port;
      },
    },
  ],
  goals: [
    {
      label: 'resolve 5 names, each with its preferred port and 4 fallbacks busy, under 5 ms',
      check: (r) => {
        const ns = r.get('resolve(): 5 preferred + 20 fallbacks busy (30 binds)')!.nsPerOp;
        return { ok: ns < 5e6, measured: formatNs(ns) };
      },
    },
  ],
});
await rm(sessionDir, { recursive: true, force: true });
if (sink < 0) console.log(sink);
