// Ports that a reloaded config names and the running manager did not: each
// is resolved and reserved as at start (its configured port, its fallbacks,
// the dynamic range; a claim in the session so no other manager takes it),
// and released again when a later reload no longer names it.
import { createPortRegistry } from '@core/ports';
import type { GlobalSessionManager } from '@core/session';
import { namedPorts } from './commands/configured-ports.js';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';
import { PORT_ENV_PREFIX } from './manager-ports.js';

const HOST = '127.0.0.1';

/** The ports added by reloads, on top of those resolved at start. */
export class ReloadedPorts {
  private added: Record<string, number> = {};

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  /** Name → port of every port added by a reload and still named. */
  get ports(): Readonly<Record<string, number>> {
    return this.added;
  }

  /**
   * Resolves and reserves the ports `next` names that neither `atStart` nor
   * an earlier reload has. Nothing is kept when one of them cannot be had.
   * @returns the names added.
   * @throws ConfigError E_CONFIG_INVALID naming the port (bad override, no free candidate, a clash).
   */
  async add(atStart: Readonly<Record<string, number>>, next: SystemManagerConfig): Promise<string[]> {
    const known = { ...atStart, ...this.added };
    const wanted = Object.entries(namedPorts(next)).filter(([name]) => !(name in known));
    if (wanted.length === 0) return [];
    const defaults = Object.fromEntries(wanted);
    const fallbacks = Object.fromEntries(Object.entries(next.fallbacks).filter(([name]) => name in defaults));
    let resolved: Record<string, number>;
    try {
      const registry = createPortRegistry(defaults, {
        env: this.env,
        envPrefix: PORT_ENV_PREFIX,
        fallbacks,
        dynamicRange: next.dynamicRange,
        host: HOST,
      });
      await registry.resolve({ reserve: true });
      resolved = { ...(registry.ports as Record<string, number>) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new ConfigError('E_CONFIG_INVALID', `ports: ${message}; the running config stays`, {
        cause: error,
        details: [`ports: ${message}`],
      });
    }
    const taken = new Map(Object.entries(known).map(([name, port]) => [port, name]));
    const clash = Object.entries(resolved).find(([, port]) => taken.has(port));
    if (clash)
      throw new ConfigError(
        'E_CONFIG_INVALID',
        `ports.${clash[0]}: port ${clash[1]} is already the port of "${taken.get(clash[1])}"; the running config stays`,
      );
    this.added = { ...this.added, ...resolved };
    this.log.info(
      { ports: resolved },
      `reload: ports ${Object.keys(resolved).join(', ')} resolved and reserved`,
    );
    return Object.keys(resolved);
  }

  /**
   * Releases the added ports `next` no longer names (their services were
   * stopped by the reload). A release that fails is logged; the claim then
   * ends with the session.
   * @returns the names released.
   */
  async releaseUnnamed(
    next: SystemManagerConfig,
    session: GlobalSessionManager | undefined,
  ): Promise<string[]> {
    const named = namedPorts(next);
    const gone = Object.entries(this.added).filter(([name]) => !(name in named));
    for (const [name, port] of gone) {
      delete this.added[name];
      try {
        await session?.unregisterResource('port', `${HOST}:${port}`);
      } catch (error) {
        this.log.warn({ err: error, port: name }, `reload: releasing port ${name} (${port}) failed`);
      }
    }
    if (gone.length > 0)
      this.log.info(
        { ports: Object.fromEntries(gone) },
        `reload: ports ${gone.map(([n]) => n).join(', ')} released`,
      );
    return gone.map(([name]) => name);
  }
}
