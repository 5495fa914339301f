import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
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
  return createPortRegistry(
    { ...DEFAULT_PORTS, control: DEFAULT_CONTROL_PORT, ...config.ports },
    {
      env,
      envPrefix: PORT_ENV_PREFIX,
      aliases: DEFAULT_ALIASES,
      fallbacks: config.fallbacks,
      dynamicRange: config.dynamicRange,
      host: '127.0.0.1',
    },
  );
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
 * The manager's named ports with the original's live attribute aliases
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

  /** The current value of every alias (`backendPort`, …). */
  aliasValues(): Record<string, number> {
    const aliases: Record<string, number> = {};
    for (const alias of Object.keys(DEFAULT_ALIASES))
      aliases[alias] = (this.portRegistry as unknown as Record<string, number>)[alias] as number;
    return aliases;
  }

  /** Live alias of `ports.main_api`. */
  get backendPort(): number {
    return this.portRegistry.backendPort;
  }
  set backendPort(port: number) {
    this.portRegistry.backendPort = port;
  }
  /** Live alias of `ports.frontend`. */
  get frontendPort(): number {
    return this.portRegistry.frontendPort;
  }
  set frontendPort(port: number) {
    this.portRegistry.frontendPort = port;
  }
  /** Live alias of `ports.websocket_router`. */
  get websocketPort(): number {
    return this.portRegistry.websocketPort;
  }
  set websocketPort(port: number) {
    this.portRegistry.websocketPort = port;
  }
  /** @deprecated Use `backendPort`. */
  get backend_port(): number {
    return this.portRegistry.backendPort;
  }
  set backend_port(port: number) {
    this.portRegistry.backendPort = port;
  }
  /** @deprecated Use `frontendPort`. */
  get frontend_port(): number {
    return this.portRegistry.frontendPort;
  }
  set frontend_port(port: number) {
    this.portRegistry.frontendPort = port;
  }
  /** @deprecated Use `websocketPort`. */
  get websocket_port(): number {
    return this.portRegistry.websocketPort;
  }
  set websocket_port(port: number) {
    this.portRegistry.websocketPort = port;
  }
}
