// The command dispatcher: each command lives in src/commands/<name>.ts and is
// imported only when it runs, so read-only commands load none of what
// `start` needs (zod, pino, ioredis) unless their data calls for it.
import { createRequire } from 'node:module';
import { discoverConfig } from './config-discovery.js';
import { exitCodeOf, SystemManagerError } from './errors.js';
import { createLogger, type Logger } from './logger.js';

/** Options every command takes (each command reads the ones it understands). */
export interface CommandOptions {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  /** `unit --user`: User= of the unit (default: the user running `unit`). */
  readonly user?: string | undefined;
  /** `unit --group`: Group= (default: the user's primary group). */
  readonly group?: string | undefined;
  /** `unit --set Key=Value` (repeatable): one hardening directive changed, or a ReadWritePaths= added. */
  readonly set?: readonly string[] | undefined;
  /** `unit --no-hardening`: leave out every hardening directive not given with `--set`. */
  readonly noHardening?: boolean | undefined;
  /** `unit --allow-temp-paths`: write paths under temp directories (a unit for tests or demos). */
  readonly allowTempPaths?: boolean | undefined;
  /** `status --all-users`: every user's session directory and the boot unit's (needs root to read them). */
  readonly allUsers?: boolean | undefined;
  /** `status --fleet`: one row per host of the shared registry. */
  readonly fleet?: boolean | undefined;
  /** `ports --resolve`: the dry run of where a start would go. */
  readonly resolve?: boolean | undefined;
  /** `--session`: the manager to control when several run. */
  readonly session?: string | undefined;
  /** `logs -n`: how many recent lines (as typed; checked by the command). */
  readonly lines?: string | undefined;
  /** `logs -f`: follow. */
  readonly follow?: boolean | undefined;
  /** The command's positional arguments (service names, a signal). */
  readonly args?: readonly string[] | undefined;
}

/** A logger created on first use (pino is not loaded by commands that never log). */
export interface LazyLogger {
  get(): Logger;
  /** Whether it was created. */
  readonly created: boolean;
}

function lazyLogger(): LazyLogger {
  let logger: Logger | undefined;
  return {
    get: () => {
      logger ??= createLogger();
      return logger;
    },
    get created() {
      return logger !== undefined;
    },
  };
}

/**
 * Whether `error` is one a package of ours throws on purpose (a coded
 * `SessionError`, `PortsError` or `StatsError`). The packages are imported
 * here, on the error path only, so a read-only command that never touched
 * them does not load them (and zod) up front; one that threw such an error
 * has them loaded already.
 */
async function isPackageError(error: unknown): Promise<boolean> {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'string') return false;
  try {
    const { SessionError } = await import('@core/session');
    if (error instanceof SessionError) return true;
    const { PortsError } = await import('@core/ports');
    if (error instanceof PortsError) return true;
    const { StatsError } = await import('@core/stats');
    return error instanceof StatsError;
  } catch {
    return false; // a package that cannot be loaded now threw nothing we know
  }
}

async function reportError(log: LazyLogger, error: unknown): Promise<number> {
  const exitCode = exitCodeOf(error);
  if (error instanceof SystemManagerError) {
    log.get().error({ code: error.code, details: error.details, exitCode }, error.message);
    const tail = error.details.length > 0 ? `\n  ${error.details.join('\n  ')}` : '';
    if (!process.stderr.isTTY) process.stderr.write(`system-manager: ${error.message}${tail}\n`);
    return exitCode;
  }
  if (await isPackageError(error)) {
    // An expected, coded error of one of our packages: one line, no stack.
    const { code, message } = error as Error & { code: string };
    log.get().error({ code }, message);
    if (!process.stderr.isTTY) process.stderr.write(`system-manager: ${message}\n`);
    return exitCode;
  }
  log.get().error({ err: error }, 'unexpected error');
  return exitCode;
}

/**
 * The `start` command's module. Built, it is loaded with require (of ES
 * modules, Node >= 20.19), which reads the module graph one file at a time:
 * import() reads its ~190 files all at once, ~110 descriptors before the
 * first line runs, and a manager under a low `nofile` (64) must start. Run
 * from source it keeps import(): tsx compiles what require loads to
 * CommonJS, which has no `import.meta.resolve`.
 */
async function loadStartCommand(): Promise<typeof import('./commands/start.js')> {
  if (import.meta.url.endsWith('.ts')) return import('./commands/start.js');
  return createRequire(import.meta.url)('./commands/start.js') as typeof import('./commands/start.js');
}

/**
 * Runs one CLI command and returns its exit code (78 for an invalid config).
 * Never calls process.exit except for a forced second signal in `start`.
 */
export async function runCommand(command: string, options: CommandOptions): Promise<number> {
  const log = lazyLogger();
  try {
    const args = options.args ?? [];
    switch (command) {
      case 'start': {
        // `start <service…>` starts services of a running manager; `start` alone starts the manager.
        if (args.length > 0)
          return await (await import('./commands/control.js')).serviceActionCommand('start', args, options);
        // Discovery (--config, $SYSTEM_MANAGER_CONFIG, /etc or XDG, built-in) happens here, so `start` and
        // `config check` always agree on the file; the start path then gets an explicit path (or none).
        const source = discoverConfig({ flag: options.config });
        log.get().info({ config: source.file, origin: source.origin }, `config: ${source.description}`);
        const { startCommand } = await loadStartCommand();
        return await startCommand({ ...options, config: source.file ?? undefined }, log.get());
      }
      case 'status':
        if (options.fleet)
          return await (await import('./commands/fleet-status.js')).fleetStatusCommand(options, log);
        return await (await import('./commands/status.js')).statusCommand(options, log);
      case 'ports':
        return await (await import('./commands/ports.js')).portsCommand(options, log);
      case 'sessions':
        return await (await import('./commands/sessions-cleanup.js')).sessionsCleanupCommand(options, log);
      case 'unit':
        return await (await import('./commands/unit.js')).unitCommand(options);
      case 'config':
        return await (await import('./commands/config-check.js')).configCheckCommand(options);
      case 'restart':
      case 'stop':
        return await (await import('./commands/control.js')).serviceActionCommand(command, args, options);
      case 'signal':
        return await (await import('./commands/control.js')).signalCommand(args, options);
      case 'reload':
        return await (await import('./commands/control.js')).reloadCommand(options);
      case 'describe':
        return await (await import('./commands/control.js')).describeCommand(args, options);
      case 'logs':
        return await (await import('./commands/control.js')).logsCommand(args, options);
      case 'top':
        return await (await import('./commands/top.js')).topCommand(options);
      case 'doctor':
        return await (await import('./commands/doctor.js')).doctorCommand(options);
      default:
        throw new SystemManagerError('E_USAGE', `unknown command ${command}`);
    }
  } catch (error) {
    return await reportError(log, error);
  }
}
