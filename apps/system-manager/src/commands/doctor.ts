import type { CommandOptions } from '../commands.js';
import {
  type CheckResult,
  checkClock,
  checkConfig,
  checkLock,
  checkRegistry,
  checkSessionDir,
} from './doctor-checks.js';
import {
  checkCommands,
  checkFleetKey,
  checkInit,
  checkLogWriter,
  checkPorts,
  checkStore,
} from './doctor-environment.js';
import { checkControlSockets } from './doctor-sockets.js';
import { print } from './output.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** `system-manager doctor [--json]`: every check with what to do; exit 0 unless one fails. Read-only. */
export async function doctorCommand(options: CommandOptions): Promise<number> {
  const results: CheckResult[] = [];
  const { result: configResult, config } = await checkConfig(options.config);
  results.push(configResult);
  results.push(checkSessionDir());
  const registry = await checkRegistry();
  results.push(registry.result, checkLock());
  results.push(await checkStore(config, process.env));
  const fleetKey = await checkFleetKey(config, process.env);
  if (fleetKey !== null) results.push(fleetKey);
  if (config) {
    const [{ AsyncSystemManager }, { createLogger }] = await Promise.all([
      import('../manager.js'),
      import('../logger.js'),
    ]);
    const manager = new AsyncSystemManager({ config, logger: createLogger({ level: 'silent' }) });
    results.push(...(await checkPorts({ ...(manager.ports as Record<string, number>) }, registry.listings)));
    results.push(...checkCommands(config, process.env));
  }
  results.push(await checkLogWriter(config, process.env));
  results.push(...(await checkControlSockets(config?.control.socketGroup, registry.listings)));
  results.push(checkClock(registry.listings), checkInit(process.env));
  const failed = results.filter((r) => r.status === 'fail').length;
  if (options.json) print(JSON.stringify({ ok: failed === 0, checks: results }));
  else {
    for (const r of results) {
      print(`${MARK[r.status]}  ${r.check}: ${r.message}`);
      if (r.fix) print(`      → ${r.fix}`);
    }
    print(failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`);
  }
  return failed === 0 ? 0 : 1;
}
