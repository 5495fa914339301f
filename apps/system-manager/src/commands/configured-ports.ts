// The configured ports of the built-in config, computed without loading
// @core/ports and zod (~80 ms of a ~60 ms command). Only the plain case takes
// this path: no config file, and every SYSTEM_MANAGER_PORT_* override a plain
// port number. Anything else (a bad value, a clash) goes through the real
// registry, which also gives the real error. A test keeps these copies equal
// to @core/ports' DEFAULT_PORTS / DEFAULT_ALIASES and the manager's constants.

/** Copy of @core/ports `DEFAULT_PORTS` plus the manager's `control` port. */
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

/** Copy of the manager's `PORT_ENV_PREFIX`. */
export const PORT_ENV_PREFIX_COPY = 'SYSTEM_MANAGER_PORT_';

/** The built-in config's ports with env overrides applied, or null when the full registry must decide. */
export function builtinConfiguredPorts(env: NodeJS.ProcessEnv): {
  ports: Record<string, number>;
  aliases: Record<string, { name: string; port: number }>;
} | null {
  const ports: Record<string, number> = {};
  for (const [name, port] of Object.entries(BUILTIN_PORTS)) {
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
  for (const [alias, name] of Object.entries(BUILTIN_ALIASES))
    aliases[alias] = { name, port: ports[name] as number };
  return { ports, aliases };
}
