import os from 'node:os';

/** Name of the app's binary. */
export const BIN_NAME = 'system-manager';

/** The default named ports of the original startup manager (moves to @core/ports). */
export const BOOT_PORTS: Readonly<Record<string, number>> = Object.freeze({
  main_api: 8010,
  websocket_router: 8001,
  frontend: 3000,
  llama_cpp: 8080,
  event_ui: 8888,
});

/** One-screen summary of this process and its ports, printed by `system-manager start` until the app lands. */
export function bootSummary(): string {
  const lines = [`${BIN_NAME}: pid ${process.pid} on ${os.hostname()}`, 'ports:'];
  for (const [name, port] of Object.entries(BOOT_PORTS)) lines.push(`  ${name.padEnd(18)} ${port}`);
  return lines.join('\n');
}
