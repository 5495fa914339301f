import type { CommandOptions } from '../commands.js';
import type { Logger } from '../logger.js';
import { AsyncSystemManager } from '../manager.js';

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** `system-manager start`: starts the services and the control endpoint, runs until a signal stops it. */
export async function startCommand(options: CommandOptions, log: Logger): Promise<number> {
  const manager = new AsyncSystemManager({ config: options.config, logger: log });
  let stopping: Promise<unknown> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1); // the exit handler still signals our services and unregisters synchronously
    }
    log.info({ signal }, 'shutting down');
    stopping = manager.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const report = await manager.start();
  if (options.json) print(JSON.stringify(report));
  // Run until a signal asks us to stop.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (stopping) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
  });
  await stopping;
  return 0;
}
