import { createPortRegistry } from '@core/ports';
import { namedAliases, namedPorts } from './commands/configured-ports.js';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';

/** Default port of the control endpoint (GET /health, /status, /metrics). */
export const DEFAULT_CONTROL_PORT = 8099;
/** Prefix of the env vars that override a named port, e.g. `SYSTEM_MANAGER_PORT_MAIN_API=9000`. */
export const PORT_ENV_PREFIX = 'SYSTEM_MANAGER_PORT_';

/**
 * The registry of the config's ports with `SYSTEM_MANAGER_PORT_*` overrides.
 * Whatever it refuses (a bad override, two names on one port) is a config
 * error: exit 78, so systemd does not restart a run that can only fail again.
 */
function buildPortRegistry(config: SystemManagerConfig, env: NodeJS.ProcessEnv) {
  try {
    return createRegistry(config, env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError('E_CONFIG_INVALID', `ports: ${message}`, {
      cause: error,
      details: [`ports: ${message}`],
    });
  }
}

function createRegistry(config: SystemManagerConfig, env: NodeJS.ProcessEnv) {
  const ports = namedPorts(config);
  return createPortRegistry(ports, {
    env,
    envPrefix: PORT_ENV_PREFIX,
    aliases: namedAliases(ports),
    fallbacks: config.fallbacks,
    dynamicRange: config.dynamicRange,
    host: '127.0.0.1',
  });
}

/** What every service gets in its env: `CORE_PORTS` (JSON) and `SYSTEM_MANAGER_PORT_<NAME>` for each port. */
export function servicePortEnv(ports: Readonly<Record<string, number>>): Record<string, string> {
  const env: Record<string, string> = { CORE_PORTS: JSON.stringify(ports) };
  for (const [name, value] of Object.entries(ports))
    env[`${PORT_ENV_PREFIX}${name.toUpperCase()}`] = String(value);
  return env;
}

/** The port registry the manager builds from its config and env. */
export type ManagerPortRegistry = ReturnType<typeof buildPortRegistry>;

/**
 * The manager's named ports with live attribute aliases
 * (`backendPort` → `main_api`, …, and the deprecated snake_case spellings):
 * every view reads and writes the one registry.
 */
export class ManagerPorts {
  /** The named-port registry (live aliases, discovery, reservation). */
  readonly portRegistry: ManagerPortRegistry;

  /**
   * @param config - supplies extra ports, fallbacks and the dynamic range
   * @param env - read for `SYSTEM_MANAGER_PORT_<NAME>` overrides
   */
  constructor(config: SystemManagerConfig, env: NodeJS.ProcessEnv) {
    this.portRegistry = buildPortRegistry(config, env);
  }

  /** The live port record: `m.ports.main_api` always equals `m.backendPort`. */
  get ports(): ManagerPortRegistry['ports'] {
    return this.portRegistry.ports;
  }

  /** The current value of every alias of a named port (`backendPort`, …). */
  aliasValues(): Record<string, number> {
    const aliases: Record<string, number> = {};
    for (const [alias, name] of Object.entries(this.portRegistry.aliases as Record<string, string>))
      aliases[alias] = this.ports[name] as number;
    return aliases;
  }

  /** The port an alias names; a clear error when the config does not name that port. */
  private aliasPort(alias: string, name: string): number {
    const port = (this.ports as Record<string, number | undefined>)[name];
    if (port === undefined) throw unnamedPort(alias, name);
    return port;
  }

  private setAliasPort(alias: string, name: string, port: number): void {
    if (!(name in this.ports)) throw unnamedPort(alias, name);
    (this.ports as Record<string, number>)[name] = port;
  }

  /** Live alias of `ports.main_api`. */
  get backendPort(): number {
    return this.aliasPort('backendPort', 'main_api');
  }
  set backendPort(port: number) {
    this.setAliasPort('backendPort', 'main_api', port);
  }
  /** Live alias of `ports.frontend`. */
  get frontendPort(): number {
    return this.aliasPort('frontendPort', 'frontend');
  }
  set frontendPort(port: number) {
    this.setAliasPort('frontendPort', 'frontend', port);
  }
  /** Live alias of `ports.websocket_router`. */
  get websocketPort(): number {
    return this.aliasPort('websocketPort', 'websocket_router');
  }
  set websocketPort(port: number) {
    this.setAliasPort('websocketPort', 'websocket_router', port);
  }
  /** @deprecated Use `backendPort`. */
  get backend_port(): number {
    return this.aliasPort('backend_port', 'main_api');
  }
  set backend_port(port: number) {
    this.setAliasPort('backend_port', 'main_api', port);
  }
  /** @deprecated Use `frontendPort`. */
  get frontend_port(): number {
    return this.aliasPort('frontend_port', 'frontend');
  }
  set frontend_port(port: number) {
    this.setAliasPort('frontend_port', 'frontend', port);
  }
  /** @deprecated Use `websocketPort`. */
  get websocket_port(): number {
    return this.aliasPort('websocket_port', 'websocket_router');
  }
  set websocket_port(port: number) {
    this.setAliasPort('websocket_port', 'websocket_router', port);
  }
}

function unnamedPort(alias: string, name: string): ConfigError {
  return new ConfigError(
    'E_CONFIG_INVALID',
    `${alias} is the alias of the port "${name}", which this config does not name; give a service port "${name}" or add it to "ports"`,
    { details: [`ports.${name}: not named by this config`] },
  );
}
