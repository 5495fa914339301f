// The named ports a session record holds. Its own module: `doctor` uses it
// too, and importing it from status.ts would load the bundled read-only
// commands (scripts/bundle-read-only.mjs) into doctor's process.
import type { SessionRecord } from '@core/session';

/** The port resources of a session by name (`control`, `main_api`…). */
export function sessionPorts(record: SessionRecord): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const r of record.resources) {
    if (r.kind !== 'port') continue;
    const name = r.metadata?.['name'];
    const port = r.metadata?.['port'] ?? Number(r.id.split(':').pop());
    if (typeof name === 'string' && typeof port === 'number' && Number.isInteger(port)) ports[name] = port;
  }
  return ports;
}
