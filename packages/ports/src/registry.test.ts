import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createPortRegistry,
  DEFAULT_ALIASES,
  DEFAULT_PORTS,
  PortAliasError,
  PortConflictError,
  PortEnvError,
  PortNameError,
  PortRangeError,
} from './index.js';

/** The error `fn` throws; fails the test when it does not throw. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const make = (env: Record<string, string> = {}) =>
  createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES, env, envPrefix: 'SYSTEM_MANAGER_PORT_' });

describe('defaults', () => {
  it('are the startup manager ports and aliases', () => {
    expect(DEFAULT_PORTS).toEqual({
      main_api: 8010,
      websocket_router: 8001,
      frontend: 3000,
      llama_cpp: 8080,
      event_ui: 8888,
    });
    expect(DEFAULT_ALIASES).toEqual({
      backendPort: 'main_api',
      frontendPort: 'frontend',
      websocketPort: 'websocket_router',
      backend_port: 'main_api',
      frontend_port: 'frontend',
      websocket_port: 'websocket_router',
    });
  });
});

describe('live ports and aliases', () => {
  it('reads ports by property and by index', () => {
    const r = make();
    expect(r.ports.main_api).toBe(8010);
    expect(r.ports['frontend']).toBe(3000);
    expect(r.backendPort).toBe(8010);
    expect(r.backend_port).toBe(8010);
    expect(r.websocketPort).toBe(8001);
    expect(r.names).toEqual(['main_api', 'websocket_router', 'frontend', 'llama_cpp', 'event_ui']);
    expect(r.aliases.backendPort).toBe('main_api');
    expect(r.host).toBe('127.0.0.1');
  });

  it('an assignment through ports is seen by every alias at once', () => {
    const r = make();
    r.ports.main_api = 9010;
    expect(r.backendPort).toBe(9010);
    expect(r.backend_port).toBe(9010);
    r.ports['frontend'] = 3100;
    expect(r.frontendPort).toBe(3100);
    expect(r.frontend_port).toBe(3100);
  });

  it('an assignment through an alias is seen by ports and by the other aliases', () => {
    const r = make();
    r.backendPort = 9011;
    expect(r.ports.main_api).toBe(9011);
    expect(r.backend_port).toBe(9011);
    r.websocket_port = 9012;
    expect(r.ports.websocket_router).toBe(9012);
    expect(r.websocketPort).toBe(9012);
  });

  it('rejects a bad port with RangeError and leaves the state unchanged', () => {
    const r = make();
    for (const bad of [0, 65536, 80.5, -1, Number.NaN, '9000', null]) {
      expect(() => {
        (r.ports as Record<string, unknown>)['main_api'] = bad;
      }).toThrow(RangeError);
      expect(() => {
        (r as unknown as Record<string, unknown>)['backendPort'] = bad;
      }).toThrow(PortRangeError);
    }
    expect(r.ports.main_api).toBe(8010);
    const error = caught(() => {
      r.backendPort = 70000;
    });
    expect(error).toMatchObject({ code: 'E_PORT_RANGE', field: 'backendPort', value: 70000 });
    expect((error as Error).message).toBe('backendPort: expected an integer port in 1–65535, got 70000');
  });

  it('rejects an unknown name, deleting and defining', () => {
    const r = make();
    const loose = r.ports as Record<string, number>;
    expect(() => {
      loose['nope'] = 1234;
    }).toThrow(PortNameError);
    expect(() => {
      loose['nope'] = 1234;
    }).toThrow(/unknown port name "nope" \(defined: main_api, websocket_router/);
    expect('nope' in r.ports).toBe(false);
    expect(() => delete loose['main_api']).toThrow(/names are fixed/);
    expect(() => Object.defineProperty(r.ports, 'x', { value: 1 })).toThrow(PortNameError);
    expect(() => {
      (r as unknown as Record<string, number>)['nope'] = 1;
    }).toThrow(TypeError);
    expect(r.ports.main_api).toBe(8010);
  });

  it('never lets two names share a port, through ports or an alias', () => {
    const r = make();
    expect(() => {
      r.ports.frontend = 8010;
    }).toThrow(PortConflictError);
    expect(() => {
      r.frontendPort = 8080;
    }).toThrow(/port 8080 is given to more than one name \(llama_cpp, frontend\)/);
    expect(r.ports.frontend).toBe(3000);
    // Re-assigning a name its own port is fine.
    r.ports.frontend = 3000;
    expect(r.frontendPort).toBe(3000);
  });

  it('behaves like a plain record for keys, spread, JSON and inspect', () => {
    const r = make();
    r.ports.event_ui = 9999;
    expect(Object.keys(r.ports)).toEqual(r.names);
    expect({ ...r.ports }).toEqual({ ...DEFAULT_PORTS, event_ui: 9999 });
    expect(JSON.parse(JSON.stringify(r.ports))).toEqual({ ...DEFAULT_PORTS, event_ui: 9999 });
    expect(inspect(r.ports)).toContain('event_ui: 9999');
    expect('main_api' in r.ports).toBe(true);
  });

  it('snapshot and toJSON show ports and aliases with their current port', () => {
    const r = make();
    r.backendPort = 9000;
    const snap = r.snapshot();
    expect(snap.host).toBe('127.0.0.1');
    expect(snap.ports.main_api).toBe(9000);
    expect(snap.aliases.backend_port).toEqual({ name: 'main_api', port: 9000 });
    expect(JSON.parse(JSON.stringify(r))).toEqual(snap);
    // A snapshot is a copy, not a view.
    r.backendPort = 9001;
    expect(snap.ports.main_api).toBe(9000);
  });

  it('has no alias properties when none are given', () => {
    const r = createPortRegistry({ api: 8000 }, { env: {} });
    expect(Object.keys(r)).not.toContain('backendPort');
    expect(r.aliases).toEqual({});
  });
});

describe('env overrides', () => {
  it('applies <envPrefix><NAME> and the aliases follow', () => {
    const r = make({ SYSTEM_MANAGER_PORT_MAIN_API: '9000', SYSTEM_MANAGER_PORT_EVENT_UI: ' 9100 ' });
    expect(r.ports.main_api).toBe(9000);
    expect(r.backendPort).toBe(9000);
    expect(r.ports.event_ui).toBe(9100);
    expect(r.ports.frontend).toBe(3000);
  });

  it('reads process.env by default, and nothing without a prefix', () => {
    process.env['PORTS_TEST_PREFIX_API'] = '9300';
    try {
      expect(createPortRegistry({ api: 8000 }, { envPrefix: 'PORTS_TEST_PREFIX_' }).ports.api).toBe(9300);
      expect(createPortRegistry({ api: 8000 }).ports.api).toBe(8000);
    } finally {
      delete process.env['PORTS_TEST_PREFIX_API'];
    }
  });

  it('treats an empty value as unset', () => {
    expect(make({ SYSTEM_MANAGER_PORT_MAIN_API: '' }).ports.main_api).toBe(8010);
  });

  it.each(['abc', '0', '65536', '80.5', '-1', '9000x', '1e3', '0x1f90'])(
    'rejects %j with an error naming the variable and the value',
    (value) => {
      const error = caught(() => make({ SYSTEM_MANAGER_PORT_FRONTEND: value }));
      expect(error).toBeInstanceOf(PortEnvError);
      expect(error).toMatchObject({ code: 'E_PORT_ENV', variable: 'SYSTEM_MANAGER_PORT_FRONTEND', value });
      expect((error as Error).message).toContain(`SYSTEM_MANAGER_PORT_FRONTEND=${JSON.stringify(value)}`);
      expect((error as Error).message).toContain('1–65535');
    },
  );
});

describe('configuration checks at creation', () => {
  it('rejects two names with the same port, saying where each came from', () => {
    expect(() => createPortRegistry({ a: 8000, b: 8000 }, { env: {} })).toThrow(PortConflictError);
    const error = caught(() => make({ SYSTEM_MANAGER_PORT_FRONTEND: '8010' }));
    expect(error).toMatchObject({ code: 'E_PORT_CONFLICT', port: 8010, names: ['main_api', 'frontend'] });
    expect((error as Error).message).toContain('"main_api" from defaults.main_api');
    expect((error as Error).message).toContain('"frontend" from env SYSTEM_MANAGER_PORT_FRONTEND');
  });

  it('rejects an alias to an unknown name, and one that shadows a member', () => {
    const untyped = createPortRegistry as (d: object, o: object) => unknown;
    expect(() => untyped({ api: 8000 }, { aliases: { backendPort: 'main_api' } })).toThrow(PortAliasError);
    expect(() => untyped({ api: 8000 }, { aliases: { backendPort: 'main_api' } })).toThrow(
      /alias "backendPort" points at "main_api", which is not a defined port name \(defined: api\)/,
    );
    expect(() => untyped({ api: 8000 }, { aliases: { resolve: 'api' } })).toThrow(/shadow a registry member/);
  });

  it('rejects bad defaults, names, fallbacks, dynamicRange and host', () => {
    const untyped = createPortRegistry as (d: unknown, o?: object) => unknown;
    expect(() => untyped({ api: 0 })).toThrow(/defaults.api: expected an integer port in 1–65535, got 0/);
    expect(() => untyped({})).toThrow(/at least one port/);
    expect(() => untyped(null)).toThrow(TypeError);
    expect(() => untyped({ 'main-api': 8000 })).toThrow(PortNameError);
    expect(() => untyped({ api: 8000, API: 8001 })).toThrow(/differ only in case/);
    expect(() => untyped({ api: 8000 }, { fallbacks: { web: [8001] } })).toThrow(
      /fallbacks given for "web", which is not a defined port name/,
    );
    expect(() => untyped({ api: 8000 }, { fallbacks: { api: [8001, 70000] } })).toThrow(
      /fallbacks.api\[1\]: expected an integer port in 1–65535, got 70000/,
    );
    expect(() => untyped({ api: 8000 }, { dynamicRange: [9000] })).toThrow(PortRangeError);
    expect(() => untyped({ api: 8000 }, { dynamicRange: [9100, 9000] })).toThrow(/expected from <= to/);
    expect(() => untyped({ api: 8000 }, { dynamicRange: [0, 9000] })).toThrow(/dynamicRange\[0\]/);
    expect(() => untyped({ api: 8000 }, { host: '' })).toThrow(/"host" must be a non-empty string/);
  });
});

describe('validate', () => {
  it('a registry built through its API holds every invariant', () => {
    const r = make();
    r.backendPort = 9000;
    const report = r.validate({ autoHeal: true });
    expect(report.consistent).toBe(true);
    expect(report.healed).toEqual([]);
    expect(r.ports.main_api).toBe(9000);
  });
});
