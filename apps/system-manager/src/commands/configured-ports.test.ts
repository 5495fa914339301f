import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTROL_PORT, PORT_ENV_PREFIX } from '../manager.js';
import {
  BUILTIN_ALIASES,
  BUILTIN_PORTS,
  builtinConfiguredPorts,
  PORT_ENV_PREFIX_COPY,
} from './configured-ports.js';

describe('fast configured ports (no @core/ports, no zod)', () => {
  it('its copies equal @core/ports and the manager', () => {
    expect(BUILTIN_PORTS).toEqual({ ...DEFAULT_PORTS, control: DEFAULT_CONTROL_PORT });
    expect(BUILTIN_ALIASES).toEqual(DEFAULT_ALIASES);
    expect(PORT_ENV_PREFIX_COPY).toBe(PORT_ENV_PREFIX);
  });

  it('gives what the real registry gives for plain overrides, and defers every unusual value to it', () => {
    const env = { SYSTEM_MANAGER_PORT_MAIN_API: '9000', SYSTEM_MANAGER_PORT_FRONTEND: '' };
    const real = createPortRegistry(
      { ...DEFAULT_PORTS, control: DEFAULT_CONTROL_PORT },
      { env, envPrefix: PORT_ENV_PREFIX, aliases: DEFAULT_ALIASES },
    );
    expect(builtinConfiguredPorts(env)?.ports).toEqual({ ...real.ports });
    expect(builtinConfiguredPorts(env)?.aliases['backendPort']).toEqual({ name: 'main_api', port: 9000 });
    for (const bad of ['0', '65536', ' 80', '80x', '1e3', '-1'])
      expect(builtinConfiguredPorts({ SYSTEM_MANAGER_PORT_MAIN_API: bad })).toBeNull();
    expect(builtinConfiguredPorts({ SYSTEM_MANAGER_PORT_MAIN_API: '3000' })).toBeNull(); // clashes with frontend
  });
});
