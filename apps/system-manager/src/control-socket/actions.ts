// What each control-socket command does to the running manager's services.
// Every name in a request is checked before anything is done: a request
// naming one unknown service changes nothing.
import { SystemManagerError } from '../errors.js';
import type { OutputTap } from '../supervisor/output-tap.js';
import type { SupervisedService } from '../supervisor/service.js';
import type { Requester } from '../supervisor/service-history.js';
import type { CacheCounters, Overview } from './overview.js';
import type { LogLine } from './protocol.js';
import type { ControlActions } from './server.js';

/** The outcome of an action on one service. */
export interface ServiceActionOutcome {
  readonly service: string;
  /** What happened: `restarted`, `stopped`, `started`, or that nothing had to be done. */
  readonly outcome: 'restarted' | 'stopped' | 'started' | 'already-stopped' | 'already-running' | 'failed';
  /** Why it failed (the service's last lines in `details`). */
  readonly error?: { readonly code: string; readonly message: string; readonly details: readonly string[] };
}

/** What the actions need of the manager. */
export interface ControlledManager {
  /** The services as they are now (a reload replaces some). */
  services(): readonly SupervisedService[];
  /** Reloads the config file in force; resolves with the reload's report. */
  reload(by: Requester): Promise<unknown>;
  /** Cache counters of the services that report cache events, by service name. */
  caches(): Record<string, CacheCounters>;
  readonly tap: OutputTap;
}

/** The control socket's actions on `manager`. */
export function controlActions(manager: ControlledManager): ControlActions {
  const find = (names: readonly string[]): SupervisedService[] => {
    const services = manager.services();
    const unknown = names.filter((name) => !services.some((s) => s.config.name === name));
    if (unknown.length > 0)
      throw new SystemManagerError(
        'E_NO_SUCH_SERVICE',
        `no service named ${unknown.map((n) => JSON.stringify(n)).join(', ')} (services: ${services.map((s) => s.config.name).join(', ') || 'none'})`,
      );
    return [...new Set(names)].map(
      (name) => services.find((s) => s.config.name === name) as SupervisedService,
    );
  };
  // One service after the other, as supervisorctl does: each outcome is reported, a failure does not stop the rest.
  const each = async (
    names: readonly string[],
    act: (service: SupervisedService) => Promise<ServiceActionOutcome['outcome']>,
  ): Promise<ServiceActionOutcome[]> => {
    const outcomes: ServiceActionOutcome[] = [];
    for (const service of find(names)) {
      try {
        outcomes.push({ service: service.config.name, outcome: await act(service) });
      } catch (error) {
        outcomes.push({ service: service.config.name, outcome: 'failed', error: failureOf(error) });
      }
    }
    return outcomes;
  };
  return {
    restart: (names, by) =>
      each(names, async (service) => {
        await service.restartNow(by);
        return 'restarted';
      }),
    stop: (names, by) =>
      each(names, async (service) => ((await service.hold(by)) ? 'stopped' : 'already-stopped')),
    start: (names, by) =>
      each(names, async (service) => ((await service.release(by)) ? 'started' : 'already-running')),
    signal: (name, signal) => {
      const [service] = find([name]) as [SupervisedService];
      service.sendSignal(signal);
      return { service: name, signal, pid: service.pid };
    },
    reload: (by) => manager.reload(by),
    describe: (name) => describe(find([name])[0] as SupervisedService),
    overview: (): Overview => ({
      at: Date.now(),
      services: manager.services().map((service) => {
        const status = service.status();
        return {
          name: status.name,
          state: status.state,
          health: status.health,
          pid: status.pid,
          port: status.port,
          startedAt: status.startedAt,
          restarts: status.restarts,
          stoppedBy: status.stoppedBy?.user ?? null,
        };
      }),
      caches: manager.caches(),
    }),
    logs: async (name, lines) => {
      const services = name === null ? manager.services() : find([name]);
      const recent: LogLine[] = [];
      for (const service of services)
        for (const text of await service.output.recentLines(lines))
          recent.push({ service: service.config.name, text });
      return recent;
    },
    follow: (name, onLine) => {
      if (name !== null) find([name]);
      return manager.tap.follow(name, onLine);
    },
  };
}

/** Everything `describe` shows of a service. */
export function describe(service: SupervisedService) {
  const status = service.status();
  const { env: _env, ...definition } = service.config;
  return {
    ...status,
    // The environment is left out: it may hold secrets, and the socket's reader needs none of it.
    definition: { ...definition, env: Object.keys(service.config.env ?? {}) },
    processStartTime: service.process?.processStartTime ?? null,
    restartHistory: service.history.restarts,
    healthHistory: service.history.health,
    lastLines: service.output.lastLines(),
  };
}

function failureOf(error: unknown): NonNullable<ServiceActionOutcome['error']> {
  if (error instanceof SystemManagerError)
    return { code: error.code, message: error.message, details: error.details };
  return { code: 'E_INTERNAL', message: (error as Error)?.message ?? String(error), details: [] };
}
