import { inspect } from 'node:util';
import type { ValidateOptions, ValidationReport } from '@core/invariants';
import { Mutex } from 'async-mutex';
import { confirmingBusy } from './busy-confirmation.js';
import { checkPort, readPortConfig } from './config.js';
import { discoverPorts, type PortResolution, portResourceId } from './discovery.js';
import { PortConflictError, PortNameError } from './errors.js';
import { portInvariantEngine } from './invariants.js';
import { probePort } from './probe.js';
import { availableProcessSession, type PortReservationSession } from './session.js';

/** The live record of ports: one number per name, read and assigned like plain properties. */
export type PortRecord<N extends string> = { [K in N]: number };

/**
 * One `number` accessor per alias. Homomorphic over the aliases object, so an
 * alias documented `@deprecated` there (as the snake-case ones of
 * {@link DEFAULT_ALIASES} are) is struck through on the registry too.
 */
export type AliasProperties<A> = { -readonly [K in keyof A]: number };

/** Options of {@link createPortRegistry}. */
export interface PortRegistryOptions<N extends string, A extends Readonly<Record<string, N>>> {
  /** Where env overrides are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Prefix of the env override of each name: `<envPrefix><NAME>` with the name
   * upper-cased, e.g. `SYSTEM_MANAGER_PORT_` → `SYSTEM_MANAGER_PORT_MAIN_API`.
   * Without a prefix, no env variable is read.
   */
  readonly envPrefix?: string;
  /** Alias → name, each exposed as a live property of the registry (e.g. {@link DEFAULT_ALIASES}). */
  readonly aliases?: A;
  /** Ports to try, in order, when a name's port is taken. */
  readonly fallbacks?: { readonly [K in N]?: readonly number[] };
  /** `[from, to]` (inclusive) scanned when a name's port and all its fallbacks are taken. Default: none. */
  readonly dynamicRange?: readonly [from: number, to: number];
  /** Interface that ports are probed (bound) on. Default `127.0.0.1`. */
  readonly host?: string;
  /**
   * The session that records reservations. Default: the process-wide
   * @core/session manager, when one exists (`isSessionManagerAvailable()`).
   */
  readonly session?: PortReservationSession;
}

/** Options of {@link PortRegistryMembers.resolve}. */
export interface ResolveOptions {
  /**
   * Reserve the chosen ports in the session registry, skipping ports other
   * live sessions reserved, so two processes resolving at once never get the
   * same port. Needs a session (see {@link PortRegistryOptions.session});
   * without one, nothing is reserved and the report says `reserved: false`.
   * While reserving, a port found busy is probed again over ~0.3 s before it
   * is passed over: another process reserving at the same moment probes the
   * same candidates, and its probe makes a free port look busy for an instant.
   * Default `false`.
   */
  readonly reserve?: boolean;
}

/** What {@link PortRegistryMembers.resolve} decided. */
export interface ResolveReport<N extends string> {
  /** The host probed. */
  readonly host: string;
  /** Whether the chosen ports were recorded as reservations of a session. */
  readonly reserved: boolean;
  /** Per name: the port chosen, why, and what was tried. */
  readonly ports: { readonly [K in N]: PortResolution<K> };
}

/** A plain snapshot of a registry, e.g. for a `ports` command or `JSON.stringify(registry)`. */
export interface PortSnapshot<N extends string, A> {
  /** The host ports are probed on. */
  readonly host: string;
  /** name → port. */
  readonly ports: { readonly [K in N]: number };
  /** alias → its name and that name's port. */
  readonly aliases: { readonly [K in keyof A]: { readonly name: A[K]; readonly port: number } };
}

/** The members every registry has, besides its alias properties. */
export interface PortRegistryMembers<N extends string, A> {
  /**
   * The live ports: `ports.main_api`, `ports['main_api']`. Assigning validates
   * (integer 1–65535, else `PortRangeError`; a port another name has, else
   * `PortConflictError`; an unknown name, `PortNameError`) and leaves the state
   * unchanged when it throws. Every alias sees an assignment at once.
   */
  readonly ports: PortRecord<N>;
  /** The port names, in definition order. */
  readonly names: readonly N[];
  /** alias → name. */
  readonly aliases: Readonly<A>;
  /** The host ports are probed and reserved on. */
  readonly host: string;
  /**
   * Probes every name's port on `host`; a name whose port is busy (or denied)
   * moves to its first free fallback, else to the first free port of
   * `dynamicRange`. Updates `ports` (and so every alias) in one step at the
   * end. Calls on one registry run one at a time.
   *
   * @throws PortExhaustedError when a name has no usable candidate; `ports` is then unchanged.
   * @throws PortProbeError when a bind fails for a reason other than EADDRINUSE/EACCES.
   */
  resolve(options?: ResolveOptions): Promise<ResolveReport<N>>;
  /**
   * Checks the invariants (every port in range, no two names share a port,
   * every alias names a defined port) with @core/invariants; with
   * `autoHeal`, a broken name goes back to its configured port.
   */
  validate(options?: ValidateOptions): ValidationReport;
  /** A plain copy of ports and aliases. */
  snapshot(): PortSnapshot<N, A>;
  /** Same as {@link PortRegistryMembers.snapshot}, for `JSON.stringify`. */
  toJSON(): PortSnapshot<N, A>;
}

/** A registry of named ports with live alias properties (see {@link createPortRegistry}). */
export type PortRegistry<N extends string, A> = PortRegistryMembers<N, A> & AliasProperties<A>;

/**
 * Creates a registry of named ports: one table, seen through `ports` and
 * through every alias property, so an alias can never go stale.
 *
 * @example
 * ```ts
 * const r = createPortRegistry(DEFAULT_PORTS, {
 *   aliases: DEFAULT_ALIASES,
 *   envPrefix: 'SYSTEM_MANAGER_PORT_',
 *   fallbacks: { main_api: [8011, 8012] },
 *   dynamicRange: [20000, 20100],
 * });
 * await r.resolve();
 * r.backendPort === r.ports.main_api; // always
 * ```
 *
 * @throws PortEnvError when an env override is not an integer port in 1–65535.
 * @throws PortConflictError when two names get the same port.
 * @throws PortAliasError when an alias names an unknown port (or shadows a registry member).
 * @throws PortRangeError for a bad default, fallback or `dynamicRange`.
 * @throws PortNameError for a bad port name, or fallbacks of an unknown name.
 */
export function createPortRegistry<
  const P extends Readonly<Record<string, number>>,
  const A extends Readonly<Record<string, Extract<keyof P, string>>> = Record<never, never>,
>(
  defaults: P,
  options: PortRegistryOptions<Extract<keyof P, string>, A> = {},
): PortRegistry<Extract<keyof P, string>, A> {
  type N = Extract<keyof P, string>;
  const config = readPortConfig(defaults, options);
  const { host } = config;
  const names = Object.freeze([...config.names]) as readonly N[];
  // The single source of truth: every view below reads this map.
  const table = new Map<string, number>(config.configured);
  const aliasTable = new Map(config.aliases);
  const session = options.session;
  // name → the reservation id this registry holds for it in the session registry.
  const reservations = new Map<string, string>();

  function assign(name: string, value: unknown, via: string): void {
    if (!table.has(name)) {
      throw new PortNameError(name, `unknown port name "${name}" (defined: ${names.join(', ')})`);
    }
    const port = checkPort(value, via);
    for (const [other, p] of table) {
      if (other !== name && p === port) {
        throw new PortConflictError(port, [other, name], `"${other}" has it; choose another port for ${via}`);
      }
    }
    table.set(name, port);
  }

  const portsTarget: Record<string | symbol, unknown> = Object.create(null);
  // util.inspect shows a proxy's target, not what its traps say: give it the real picture.
  Object.defineProperty(portsTarget, inspect.custom, {
    value: () => Object.fromEntries(table),
    configurable: true,
  });
  const ports = new Proxy(portsTarget, {
    get: (target, key) => (typeof key === 'string' ? table.get(key) : target[key]),
    set: (_target, key, value) => {
      assign(String(key), value, `ports.${String(key)}`);
      return true;
    },
    has: (_target, key) => typeof key === 'string' && table.has(key),
    ownKeys: () => [...table.keys()],
    getOwnPropertyDescriptor: (_target, key) =>
      typeof key === 'string' && table.has(key)
        ? { value: table.get(key), writable: true, enumerable: true, configurable: true }
        : undefined,
    deleteProperty: (_target, key) => {
      throw new PortNameError(
        String(key),
        `cannot delete port "${String(key)}": names are fixed at creation`,
      );
    },
    defineProperty: (_target, key) => {
      throw new PortNameError(
        String(key),
        `cannot define "${String(key)}" on ports: assign a defined name instead`,
      );
    },
  }) as PortRecord<N>;

  function snapshot(): PortSnapshot<N, A> {
    const aliasView: Record<string, { name: string; port: number }> = {};
    for (const [alias, name] of aliasTable) aliasView[alias] = { name, port: table.get(name)! };
    return { host, ports: Object.fromEntries(table), aliases: aliasView } as unknown as PortSnapshot<N, A>;
  }

  function apply(resolutions: readonly PortResolution[]): void {
    const next = new Map(table);
    for (const r of resolutions) next.set(r.name, r.port);
    const owner = new Map<number, string>();
    for (const [name, port] of next) {
      const first = owner.get(port);
      if (first !== undefined) {
        throw new PortConflictError(
          port,
          [first, name],
          'a port was assigned while resolve() ran; resolve again',
        );
      }
      owner.set(port, name);
    }
    for (const [name, port] of next) table.set(name, port);
  }

  async function resolveUnlocked(reserve: boolean): Promise<ResolveReport<N>> {
    const input = {
      host,
      names,
      current: new Map(table),
      fallbacks: config.fallbacks,
      dynamicRange: config.dynamicRange,
    };
    const reservingSession = reserve ? (session ?? availableProcessSession()) : null;
    let resolutions: PortResolution[];
    if (reservingSession === null) {
      resolutions = await discoverPorts({ ...input, probe: probePort, takenByOthers: new Set() });
    } else {
      let chosen: PortResolution[] = [];
      // The session claims what the chooser returns by exclusive create, so two
      // processes never hold one port; the chooser itself takes no lock and runs
      // at the same time as other processes' choosers (again when a claim was
      // lost). Their probes of shared candidates overlap ours, hence
      // confirmingBusy: a port busy only for the instant of a peer's probe is
      // not skipped.
      await reservingSession.claimResources('port', async (takenByOthers) => {
        chosen = await discoverPorts({ ...input, probe: confirmingBusy(probePort), takenByOthers });
        return chosen.map((r) => ({
          kind: 'port' as const,
          id: portResourceId(host, r.port),
          metadata: { name: r.name, host, port: r.port },
        }));
      });
      resolutions = chosen;
      for (const r of resolutions) {
        const id = portResourceId(host, r.port);
        const previous = reservations.get(r.name);
        reservations.set(r.name, id);
        // A name that moved no longer needs its old port held.
        if (previous !== undefined && previous !== id) {
          await reservingSession.unregisterResource('port', previous);
        }
      }
    }
    apply(resolutions);
    const byName = Object.fromEntries(resolutions.map((r) => [r.name, r]));
    return { host, reserved: reservingSession !== null, ports: byName as ResolveReport<N>['ports'] };
  }

  // resolve() reads the table, awaits many binds (and maybe the session lock),
  // then writes the table: a critical section spanning awaits. Two interleaved
  // calls would plan from the same table and the later write would undo the
  // earlier one, so calls on one registry are serialised with a mutex.
  const mutex = new Mutex();

  const registry = {
    ports,
    names,
    aliases: Object.freeze(Object.fromEntries(aliasTable)) as unknown as Readonly<A>,
    host,
    resolve: (resolveOptions: ResolveOptions = {}) =>
      mutex.runExclusive(() => resolveUnlocked(resolveOptions.reserve === true)),
    validate: (validateOptions: ValidateOptions = {}) =>
      portInvariantEngine.validate(
        { ports: table, configured: config.configured, aliases: aliasTable },
        validateOptions,
      ),
    snapshot,
    toJSON: snapshot,
    [inspect.custom]: () => snapshot(),
  };
  for (const [alias, name] of aliasTable) {
    Object.defineProperty(registry, alias, {
      get: () => table.get(name),
      set: (value: unknown) => assign(name, value, alias),
      enumerable: true,
    });
  }
  return Object.freeze(registry) as unknown as PortRegistry<N, A>;
}
