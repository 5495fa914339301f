import { createInvariantEngine, defineInvariant, type FieldChange } from '@core/invariants';
import { isPort } from './config.js';

/** The state the port invariants check: the registry's own tables, healed in place. */
export interface PortTableState {
  /** Current port of each name (the registry's single source of truth). */
  readonly ports: Map<string, number>;
  /** Each name's port as configured at creation (defaults + env): where healing sends a name back. */
  readonly configured: ReadonlyMap<string, number>;
  /** alias → name. */
  readonly aliases: Map<string, string>;
}

/** Whether `port` can be given to `name` without sharing it. */
function freeFor(state: PortTableState, name: string, port: number | undefined): port is number {
  if (!isPort(port)) return false;
  for (const [other, p] of state.ports) if (other !== name && p === port) return false;
  return true;
}

/** Moves `name` back to its configured port when that is valid and unshared. */
function backToConfigured(state: PortTableState, name: string): FieldChange | null {
  const from = state.ports.get(name);
  const to = state.configured.get(name);
  if (!freeFor(state, name, to) || from === to) return null;
  state.ports.set(name, to);
  return { field: `ports.${name}`, from, to };
}

const portsInRange = defineInvariant<PortTableState>({
  id: 'ports-in-range',
  description: 'every port is an integer in 1–65535',
  check: (s) => {
    const bad = [...s.ports].filter(([, port]) => !isPort(port));
    return bad.length === 0 ? null : { names: bad.map(([n]) => n), values: bad.map(([, p]) => p) };
  },
  heal: (s) =>
    [...s.ports]
      .filter(([, port]) => !isPort(port))
      .map(([name]) => backToConfigured(s, name))
      .filter((c): c is FieldChange => c !== null),
});

const portsUnique = defineInvariant<PortTableState>({
  id: 'ports-unique',
  description: 'no two names share a port',
  check: (s) => {
    const byPort = new Map<number, string[]>();
    for (const [name, port] of s.ports) byPort.set(port, [...(byPort.get(port) ?? []), name]);
    const shared = [...byPort].filter(([, names]) => names.length > 1);
    return shared.length === 0
      ? null
      : { shared: shared.map(([port, names]) => `${port}: ${names.join(', ')}`) };
  },
  // The first name (in definition order) keeps the port; the others go back to
  // their configured port when it is unshared. Whether it is free on the host
  // is for the next resolve() to find out.
  heal: (s) => {
    const changes: FieldChange[] = [];
    const keeper = new Map<number, string>();
    for (const [name, port] of s.ports) {
      if (!keeper.has(port)) {
        keeper.set(port, name);
        continue;
      }
      const change = backToConfigured(s, name);
      if (change !== null) changes.push(change);
    }
    return changes;
  },
});

const aliasesDefined = defineInvariant<PortTableState>({
  id: 'aliases-defined',
  description: 'every alias names a defined port',
  check: (s) => {
    const dangling = [...s.aliases].filter(([, target]) => !s.ports.has(target));
    return dangling.length === 0 ? null : { aliases: dangling.map(([a, t]) => `${a} → ${t}`) };
  },
  heal: (s) =>
    [...s.aliases]
      .filter(([, target]) => !s.ports.has(target))
      .map(([alias, target]) => {
        s.aliases.delete(alias);
        return { field: `aliases.${alias}`, from: target, to: undefined };
      }),
});

/** The port invariants, in check order. */
export const portInvariants = [portsInRange, portsUnique, aliasesDefined] as const;

/** One engine for every registry: the engine is pure, the state is passed in. */
export const portInvariantEngine = createInvariantEngine<PortTableState>([...portInvariants]);
