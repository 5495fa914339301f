import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../config.js';
import { DEFAULT_CONTROL_PORT, PORT_ENV_PREFIX } from '../manager.js';
import {
  BUILTIN_ALIASES,
  BUILTIN_CONFIG_PORT_NAMES,
  BUILTIN_PORTS,
  builtinConfiguredPorts,
  namedAliases,
  namedPorts,
  PORT_ENV_PREFIX_COPY,
} from './configured-ports.js';

describe('fast configured ports (no @core/ports, no zod)', () => {
  it('its copies equal @core/ports and the manager', () => {
    expect(BUILTIN_PORTS).toEqual({ ...DEFAULT_PORTS, control: DEFAULT_CONTROL_PORT });
    expect(BUILTIN_ALIASES).toEqual(DEFAULT_ALIASES);
    expect(PORT_ENV_PREFIX_COPY).toBe(PORT_ENV_PREFIX);
    expect(BUILTIN_CONFIG_PORT_NAMES).toEqual(Object.keys(namedPorts(DEFAULT_CONFIG)));
  });

  it('gives what the real registry gives for plain overrides, and defers every unusual value to it', () => {
    const env = { SYSTEM_MANAGER_PORT_MAIN_API: '9000', SYSTEM_MANAGER_PORT_FRONTEND: '' };
    const named = namedPorts(DEFAULT_CONFIG);
    const real = createPortRegistry(named, {
      env,
      envPrefix: PORT_ENV_PREFIX,
      aliases: namedAliases(named),
    });
    expect(builtinConfiguredPorts(env)?.ports).toEqual({ ...real.ports });
    expect(builtinConfiguredPorts(env)?.aliases['backendPort']).toEqual({ name: 'main_api', port: 9000 });
    for (const bad of ['0', '65536', ' 80', '80x', '1e3', '-1'])
      expect(builtinConfiguredPorts({ SYSTEM_MANAGER_PORT_MAIN_API: bad })).toBeNull();
    expect(builtinConfiguredPorts({ SYSTEM_MANAGER_PORT_MAIN_API: '8099' })).toBeNull(); // clashes with control
    // frontend is not named by the built-in config: its override changes nothing.
    expect(builtinConfiguredPorts({ SYSTEM_MANAGER_PORT_MAIN_API: '3000' })?.ports).toEqual({
      main_api: 3000,
      control: 8099,
    });
  });
});

describe('named ports', () => {
  it("are control, the defaults a service or fallback names, and the config's own", () => {
    expect(namedPorts({})).toEqual({ control: 8099 });
    expect(
      namedPorts({
        services: [{ port: 'frontend' }, { port: 'web' }],
        fallbacks: { event_ui: [9000] },
        ports: { web: 9100, control: 9099 },
      }),
    ).toEqual({ frontend: 3000, event_ui: 8888, control: 9099, web: 9100 });
  });

  it('have aliases only where the aliased port is named', () => {
    expect(namedAliases({ control: 8099 })).toEqual({});
    expect(namedAliases({ main_api: 8010, control: 8099 })).toEqual({
      backendPort: 'main_api',
      backend_port: 'main_api',
    });
  });
});
