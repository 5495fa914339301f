import type { CommandOptions } from '../commands.js';
import { loadConfigWithSource } from '../config.js';
import { ConfigError, EX_CONFIG } from '../errors.js';
import { print } from './output.js';

/**
 * `system-manager config check`: validates like `nginx -t` and prints the
 * resolved config (defaults filled in, paths absolute). Exit 0, or 78 with
 * every bad field named.
 */
export async function configCheckCommand(options: CommandOptions): Promise<number> {
  try {
    const { config, source } = loadConfigWithSource({ flag: options.config });
    if (options.json) print(JSON.stringify({ ok: true, source, config }));
    else {
      process.stderr.write(`system-manager: config ${source.description} is valid\n`);
      print(JSON.stringify(config, null, 2));
    }
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (options.json)
      print(JSON.stringify({ ok: false, code: error.code, message: error.message, errors: error.details }));
    else {
      const lines = error.details.length > 0 ? error.details : [error.message];
      process.stderr.write(
        `system-manager: config check failed: ${error.message.split(':')[0]}\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
      );
    }
    return EX_CONFIG;
  }
}
