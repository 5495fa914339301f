import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../test/memory-session.js';
import { freePorts, freeRun, holdAll, holdPort } from '../test/sockets.js';
import { createPortRegistry, PortExhaustedError, type PortRegistryOptions } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
async function occupy(...ports: number[]): Promise<void> {
  cleanups.push(await holdAll(ports));
}

const ALIASES = {
  backendPort: 'main_api',
  backend_port: 'main_api',
  frontendPort: 'frontend',
  websocketPort: 'websocket_router',
} as const;
type Names = 'main_api' | 'websocket_router' | 'frontend';

/** The three aliased names of the startup manager, on ports free a moment ago. */
async function registryOn(
  ports: number[],
  options: Omit<PortRegistryOptions<Names, typeof ALIASES>, 'aliases' | 'env'> = {},
) {
  const [main_api, websocket_router, frontend] = ports as [number, number, number];
  return createPortRegistry(
    { main_api, websocket_router, frontend },
    {
      env: {},
      aliases: ALIASES,
      ...options,
    },
  );
}

describe('resolve', () => {
  it('keeps every free port, reason preferred', async () => {
    const ports = await freePorts(3);
    const r = await registryOn(ports);
    const report = await r.resolve();
    expect(report.reserved).toBe(false);
    expect(report.host).toBe('127.0.0.1');
    expect(report.ports.main_api).toEqual({
      name: 'main_api',
      port: ports[0],
      preferredPort: ports[0],
      reason: 'preferred',
      attempts: [{ port: ports[0], source: 'preferred', outcome: 'free' }],
    });
    expect(Object.values(report.ports).map((p) => p.reason)).toEqual(['preferred', 'preferred', 'preferred']);
    expect({ ...r.ports }).toEqual({ main_api: ports[0], websocket_router: ports[1], frontend: ports[2] });
  });

  it('moves a really occupied port to its first free fallback, and the aliases follow', async () => {
    const [main, ws, fe, fb1, fb2] = await freePorts(5);
    const r = await registryOn([main!, ws!, fe!], { fallbacks: { main_api: [fb1!, fb2!] } });
    await occupy(main!, fb1!);
    const report = await r.resolve();
    expect(report.ports.main_api.reason).toBe('fallback');
    expect(report.ports.main_api.port).toBe(fb2);
    expect(report.ports.main_api.attempts).toEqual([
      { port: main, source: 'preferred', outcome: 'busy' },
      { port: fb1, source: 'fallback', outcome: 'busy' },
      { port: fb2, source: 'fallback', outcome: 'free' },
    ]);
    expect(r.ports.main_api).toBe(fb2);
    expect(r.backendPort).toBe(fb2);
    expect(r.backend_port).toBe(fb2);
    expect(report.ports.frontend.reason).toBe('preferred');
  });

  it('with the fallbacks busy too, takes the first free port of the dynamic range', async () => {
    const base = await freeRun(3);
    const [main, ws, fe, fb1, fb2] = await freePorts(5);
    const r = await registryOn([main!, ws!, fe!], {
      fallbacks: { main_api: [fb1!, fb2!] },
      dynamicRange: [base, base + 2],
    });
    await occupy(main!, fb1!, fb2!, base);
    const report = await r.resolve();
    const main_api = report.ports.main_api;
    expect(main_api.reason).toBe('dynamic');
    expect(main_api.port).toBe(base + 1);
    expect(main_api.attempts.map((a) => `${a.port} ${a.source} ${a.outcome}`)).toEqual([
      `${main} preferred busy`,
      `${fb1} fallback busy`,
      `${fb2} fallback busy`,
      `${base} dynamic busy`,
      `${base + 1} dynamic free`,
    ]);
    expect(r.backendPort).toBe(base + 1);
    expect(r.validate().consistent).toBe(true);
  });

  it('skips a candidate another name holds', async () => {
    const [main, ws, fe, fb] = await freePorts(4);
    // main_api's first fallback is frontend's port.
    const r = await registryOn([main!, ws!, fe!], { fallbacks: { main_api: [fe!, fb!] } });
    await occupy(main!);
    const report = await r.resolve();
    expect(report.ports.main_api.attempts.map((a) => a.outcome)).toEqual([
      'busy',
      'used-by-other-name',
      'free',
    ]);
    expect(r.ports.main_api).toBe(fb);
    expect(r.ports.frontend).toBe(fe);
  });

  it('throws E_PORT_EXHAUSTED listing what was tried, and changes nothing', async () => {
    const [main, ws, fe, fb] = await freePorts(4);
    const base = await freeRun(2);
    const r = await registryOn([main!, ws!, fe!], {
      fallbacks: { main_api: [fb!] },
      dynamicRange: [base, base + 1],
    });
    await occupy(main!, fb!, base, base + 1);
    const error = await r.resolve().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortExhaustedError);
    expect(error).toMatchObject({ code: 'E_PORT_EXHAUSTED', portName: 'main_api', host: '127.0.0.1' });
    expect((error as PortExhaustedError).attempts.map((a) => a.outcome)).toEqual([
      'busy',
      'busy',
      'busy',
      'busy',
    ]);
    expect((error as Error).message).toContain(
      `no free port for "main_api" on 127.0.0.1: tried ${main} busy, ${fb} busy, ${base} busy, ${base + 1} busy;`,
    );
    expect(r.ports.main_api).toBe(main);
    // The mutex was released: the next call runs.
    await Promise.all(cleanups.splice(0).map((c) => c()));
    expect((await r.resolve()).ports.main_api.reason).toBe('preferred');
  });

  it('serialises concurrent calls: the second starts from what the first chose', async () => {
    const [main, ws, fe, fb] = await freePorts(4);
    const r = await registryOn([main!, ws!, fe!], { fallbacks: { main_api: [fb!] } });
    await occupy(main!);
    const [first, second] = await Promise.all([r.resolve(), r.resolve()]);
    expect(first.ports.main_api).toMatchObject({ preferredPort: main, port: fb, reason: 'fallback' });
    // Had the calls interleaved, both would have started from the busy port.
    expect(second.ports.main_api).toMatchObject({ preferredPort: fb, port: fb, reason: 'preferred' });
  });
});

describe('resolve({ reserve: true }) with a session', () => {
  it('reserves the chosen ports as host:port resources named after their port name', async () => {
    const ports = await freePorts(3);
    const shared = new MemoryRegistry();
    const r = await registryOn(ports, { session: shared.session('me') });
    const report = await r.resolve({ reserve: true });
    expect(report.reserved).toBe(true);
    expect(shared.idsOf('me')).toEqual(ports.map((p) => `127.0.0.1:${p}`).sort());
    expect(shared.owned.get('me')?.get(`127.0.0.1:${ports[0]}`)).toEqual({
      kind: 'port',
      id: `127.0.0.1:${ports[0]}`,
      metadata: { name: 'main_api', host: '127.0.0.1', port: ports[0] },
    });
  });

  it('skips ports another session reserved, without binding them', async () => {
    const [main, ws, fe, fb] = await freePorts(4);
    const shared = new MemoryRegistry();
    const other = createPortRegistry({ api: main! }, { env: {}, session: shared.session('other') });
    await other.resolve({ reserve: true });
    const r = await registryOn([main!, ws!, fe!], {
      session: shared.session('me'),
      fallbacks: { main_api: [fb!] },
    });
    const report = await r.resolve({ reserve: true });
    expect(report.ports.main_api.attempts.map((a) => a.outcome)).toEqual([
      'reserved-by-other-session',
      'free',
    ]);
    expect(r.backendPort).toBe(fb);
  });

  it('drops the old reservation of a name that moved', async () => {
    const [main, ws, fe, fb] = await freePorts(4);
    const shared = new MemoryRegistry();
    const me = shared.session('me');
    const r = await registryOn([main!, ws!, fe!], { session: me, fallbacks: { main_api: [fb!] } });
    await r.resolve({ reserve: true });
    expect(shared.idsOf('me')).toContain(`127.0.0.1:${main}`);
    const held = await holdPort(main!);
    cleanups.push(held.close);
    await r.resolve({ reserve: true });
    expect(r.ports.main_api).toBe(fb);
    expect(me.calls).toEqual(['claim', 'claim', `unregister 127.0.0.1:${main}`]);
    expect(shared.idsOf('me')).toEqual([fb, ws, fe].map((p) => `127.0.0.1:${p}`).sort());
  });

  it('two registries of two sessions resolving at once get different ports', async () => {
    const [main, fb1, fb2] = await freePorts(3);
    const shared = new MemoryRegistry();
    await occupy(main!);
    const make = (id: string) =>
      createPortRegistry(
        { main_api: main! },
        { env: {}, session: shared.session(id), fallbacks: { main_api: [fb1!, fb2!] } },
      );
    const [a, b] = await Promise.all([
      make('a').resolve({ reserve: true }),
      make('b').resolve({ reserve: true }),
    ]);
    expect([a.ports.main_api.port, b.ports.main_api.port].sort()).toEqual([fb1, fb2].sort());
    expect(b.ports.main_api.attempts.map((x) => x.outcome)).toEqual([
      'busy',
      'reserved-by-other-session',
      'free',
    ]);
  });

  it('reserves nothing without a session, and says so', async () => {
    const r = await registryOn(await freePorts(3));
    expect((await r.resolve({ reserve: true })).reserved).toBe(false);
  });
});
