import type { GlobalSessionManager } from '@core/session';
import { describe, expectTypeOf, it } from 'vitest';
import {
  createPortRegistry,
  DEFAULT_ALIASES,
  DEFAULT_PORTS,
  type PortRegistry,
  type PortReservationSession,
  type PortResolution,
  type ResolveReport,
} from './index.js';

// Checked by vitest's typecheck mode in every `pnpm test` (and by `tsc` in
// `pnpm typecheck`): each @ts-expect-error must meet a compile error — an
// unused one fails the run (test/type-tests.test.ts proves it) — and each
// expectTypeOf must hold.
describe('types are derived from the arguments', () => {
  const r = createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES, env: {} });
  type Names = 'main_api' | 'websocket_router' | 'frontend' | 'llama_cpp' | 'event_ui';

  it('names and aliases are numbers', () => {
    expectTypeOf(r.ports.main_api).toEqualTypeOf<number>();
    expectTypeOf(r.ports['event_ui']).toEqualTypeOf<number>();
    expectTypeOf(r.backendPort).toEqualTypeOf<number>();
    expectTypeOf(r.websocket_port).toEqualTypeOf<number>();
    expectTypeOf(r.names).toEqualTypeOf<readonly Names[]>();
    expectTypeOf(r.aliases.backendPort).toEqualTypeOf<'main_api'>();
    expectTypeOf(r).toExtend<PortRegistry<Names, typeof DEFAULT_ALIASES>>();
  });

  it('unknown names and aliases are compile errors', () => {
    // Compiled, never run: the runtime would (rightly) throw on these.
    const typeOnly = () => {
      // @ts-expect-error not an alias
      void r.nope;
      // @ts-expect-error not a port name
      void r.ports.nope;
      // @ts-expect-error ports are numbers
      r.ports.main_api = '8010';
      // @ts-expect-error aliases are numbers
      r.backendPort = '8010';
      r.backendPort = 9000;
      r.ports.frontend = 3001;
    };
    expectTypeOf(typeOnly).toBeFunction();
  });

  it('resolve reports are keyed by name', () => {
    expectTypeOf(r.resolve).returns.resolves.toEqualTypeOf<ResolveReport<Names>>();
    type Report = ResolveReport<Names>;
    expectTypeOf<Report['ports']['main_api']>().toEqualTypeOf<PortResolution<'main_api'>>();
    expectTypeOf<Report['ports']['main_api']['reason']>().toEqualTypeOf<
      'preferred' | 'fallback' | 'dynamic'
    >();
  });

  it('options are checked against the defaults', () => {
    const defaults = { api: 8000, web: 3000 };
    const typed = createPortRegistry(defaults, { aliases: { apiPort: 'api' }, fallbacks: { web: [3001] } });
    expectTypeOf(typed.apiPort).toEqualTypeOf<number>();
    expectTypeOf(typed.ports.web).toEqualTypeOf<number>();
    const typeOnly = () => {
      // @ts-expect-error alias to an unknown name
      createPortRegistry(defaults, { aliases: { apiPort: 'nope' } });
      // @ts-expect-error fallbacks of an unknown name
      createPortRegistry(defaults, { fallbacks: { nope: [1] } });
      // @ts-expect-error no aliases given: no alias properties
      void createPortRegistry(defaults).apiPort;
    };
    expectTypeOf(typeOnly).toBeFunction();
  });
});

describe('the session option', () => {
  it('accepts the real @core/session manager', () => {
    expectTypeOf<GlobalSessionManager>().toExtend<PortReservationSession>();
  });
});
