// The configured ports of the built-in config, computed without loading
// @core/ports and zod (~80 ms of a ~60 ms command). Only the plain case takes
// this path: no config file, and every SYSTEM_MANAGER_PORT_* override a plain
// port number. Anything else (a bad value, a clash) goes through the real
// registry, which also gives the real error. A test keeps these copies equal
// to @core/ports' DEFAULT_PORTS / DEFAULT_ALIASES and the manager's constants.

/**
 * Copy of @core/ports `DEFAULT_PORTS` plus the manager's `control` port: the
 * numbers a name gets when a config names it without giving one. Only the
 * names a config uses are resolved and reserved (see {@link namedPorts}).
 */
export const BUILTIN_PORTS: Readonly<Record<string, number>> = {
  main_api: 8010,
  websocket_router: 8001,
  frontend: 3000,
  llama_cpp: 8080,
  event_ui: 8888,
  control: 8099,
};

/** Copy of @core/ports `DEFAULT_ALIASES`. */
export const BUILTIN_ALIASES: Readonly<Record<string, string>> = {
  backendPort: 'main_api',
  frontendPort: 'frontend',
  websocketPort: 'websocket_router',
  backend_port: 'main_api',
  frontend_port: 'frontend',
  websocket_port: 'websocket_router',
};

/** The manager's own port: always named, whatever the config says. */
const CONTROL_PORT_NAME = 'control';

/** The parts of a config that name ports. */
export interface PortNaming {
  readonly ports?: Readonly<Record<string, number>> | undefined;
  readonly services?: ReadonlyArray<{ readonly port: string }> | undefined;
  readonly fallbacks?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The ports a config names, with their numbers: `control`, every built-in
 * default a service or a fallback names, and every entry of `ports`. A default
 * nobody names is neither resolved nor reserved, so a machine running one
 * service does not hold five ports it never uses.
 */
export function namedPorts(config: PortNaming): Record<string, number> {
  const used = new Set<string>([CONTROL_PORT_NAME]);
  for (const service of config.services ?? []) used.add(service.port);
  for (const name of Object.keys(config.fallbacks ?? {})) used.add(name);
  const named: Record<string, number> = {};
  for (const [name, port] of Object.entries(BUILTIN_PORTS)) if (used.has(name)) named[name] = port;
  return { ...named, ...config.ports };
}

/** The built-in aliases whose port is named (an alias of an unnamed port does not exist). */
export function namedAliases(ports: Readonly<Record<string, number>>): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const [alias, name] of Object.entries(BUILTIN_ALIASES)) if (name in ports) aliases[alias] = name;
  return aliases;
}

/** The port names the built-in config (no config file) names; a test keeps it equal to `namedPorts(DEFAULT_CONFIG)`. */
export const BUILTIN_CONFIG_PORT_NAMES: readonly string[] = ['main_api', 'control'];

/** Copy of the manager's `PORT_ENV_PREFIX`. */
export const PORT_ENV_PREFIX_COPY = 'SYSTEM_MANAGER_PORT_';

/** The built-in config's ports with env overrides applied, or null when the full registry must decide. */
export function builtinConfiguredPorts(env: NodeJS.ProcessEnv): {
  ports: Record<string, number>;
  aliases: Record<string, { name: string; port: number }>;
} | null {
  const ports: Record<string, number> = {};
  for (const name of BUILTIN_CONFIG_PORT_NAMES) {
    const port = BUILTIN_PORTS[name] as number;
    const raw = env[`${PORT_ENV_PREFIX_COPY}${name.toUpperCase()}`];
    if (raw === undefined || raw === '') {
      ports[name] = port;
      continue;
    }
    if (!/^[1-9][0-9]{0,4}$/.test(raw) || Number(raw) > 65535) return null;
    ports[name] = Number(raw);
  }
  if (new Set(Object.values(ports)).size !== Object.keys(ports).length) return null;
  const aliases: Record<string, { name: string; port: number }> = {};
  for (const [alias, name] of Object.entries(namedAliases(ports)))
    aliases[alias] = { name, port: ports[name] as number };
  return { ports, aliases };
}
