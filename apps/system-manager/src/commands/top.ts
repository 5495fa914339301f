// `system-manager top`: a live view of the running manager's services in the
// terminal, like `pm2 monit` or htop (see top/live-view.ts). It needs a
// terminal; without one it says so and draws nothing.
import type { CommandOptions } from '../commands.js';
import { findManager } from '../control-socket/client.js';
import { SystemManagerError } from '../errors.js';
import { runLiveView } from './top/live-view.js';

/** `top [--session <id>]`: exit 0 on `q` or Ctrl-C, 2 without a terminal, 69 with no manager. */
export async function topCommand(options: CommandOptions): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY)
    throw new SystemManagerError(
      'E_USAGE',
      `top needs a terminal (stdin and stdout must be a TTY; ${process.stdin.isTTY ? 'stdout' : 'stdin'} is not): for a one-off listing use \`system-manager status\` or \`status --json\``,
    );
  // Found before the screen is taken: no manager (69) or one not ours (77) is an ordinary error line.
  const socket = await findManager(options.session);
  return runLiveView({ socket, session: options.session, input: process.stdin, output: process.stdout });
}
