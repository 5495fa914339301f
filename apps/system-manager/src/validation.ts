import type { GlobalSessionManager, ResourceInput } from '@core/session';
import type { StatsRegistry } from '@core/stats';
import type { Logger } from './logger.js';
import { serviceResource } from './ownership.js';
import type { ValidationSummary } from './status.js';
import type { StoreHealth } from './store-health.js';
import type { SupervisedService } from './supervisor/service.js';

/** What one validation pass needs. */
export interface ValidationTargets {
  readonly stats: StatsRegistry;
  readonly ports: {
    validate(options: { autoHeal: boolean }): { consistent: boolean; healed: readonly unknown[] };
  };
  /** The session, only while the manager runs (ownership is healed then). */
  readonly session: GlobalSessionManager | undefined;
  readonly services: readonly SupervisedService[];
  readonly store: StoreHealth;
  readonly log: Logger;
}

/**
 * Runs every invariant with healing: stats, ports, and session ownership
 * (every running service registered with its current pid, no record of a
 * process we replaced). Never throws: a failing part is logged and the rest
 * still runs, and a store failure becomes the degraded state.
 */
export async function validateInvariants(targets: ValidationTargets): Promise<ValidationSummary> {
  const healed: string[] = [];
  let consistent = true;
  try {
    for (const [name, result] of Object.entries(await targets.stats.validateAll({ autoHeal: true }))) {
      if (!result.consistent) consistent = false;
      for (const change of result.healed) healed.push(`stats[${name}] ${String(change)}`);
    }
  } catch (error) {
    targets.log.error({ err: error }, 'stats validation failed');
  }
  try {
    const ports = targets.ports.validate({ autoHeal: true });
    if (!ports.consistent) consistent = false;
    for (const change of ports.healed) healed.push(`ports ${String(change)}`);
  } catch (error) {
    targets.log.error({ err: error }, 'port validation failed');
  }
  if (targets.session) healed.push(...(await healSessionOwnership(targets.session, targets)));
  if (healed.length > 0) consistent = false;
  const summary = { at: Date.now(), consistent, healed };
  if (!consistent) targets.log.warn({ healed }, 'invariants healed');
  return summary;
}

async function healSessionOwnership(
  session: GlobalSessionManager,
  targets: ValidationTargets,
): Promise<string[]> {
  const { store } = targets;
  // The age limit of sessions counts from the last heartbeat: a manager up
  // for days must not look "too old" to another terminal's cleanup.
  const beat = await store.attempt('heartbeat', () => session.heartbeat());
  if (!beat.ok) return [];
  const mine = await store.attempt('read own resources', () => session.getMyResources());
  if (!mine.ok) return [];
  const healed: string[] = [];
  const wanted = new Map<string, ResourceInput>();
  for (const service of targets.services) {
    const resource = serviceResource(service);
    if (resource) wanted.set(resource.id, resource);
  }
  const ours = new Set(targets.services.map((s) => s.config.name));
  const registered = new Set<string>();
  for (const record of mine.value) {
    if (record.kind !== 'process') continue;
    registered.add(record.id);
    const service = record.metadata?.['service'];
    const adopted = record.metadata?.['adoptedFrom'] !== undefined;
    // A record of one of our services' earlier processes (its removal failed during an outage): drop it.
    if (!adopted && typeof service === 'string' && ours.has(service) && !wanted.has(record.id)) {
      const dropped = await store.attempt('unregister replaced process', () =>
        session.unregisterResource('process', record.id),
      );
      if (dropped.ok) healed.push(`session process:${record.id}: replaced → removed`);
    }
  }
  for (const [id, resource] of wanted) {
    if (registered.has(id)) continue;
    const added = await store.attempt('register service', () => session.registerResource(resource));
    if (added.ok) healed.push(`session process:${id}: missing → registered`);
  }
  return healed;
}
