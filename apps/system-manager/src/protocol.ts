/**
 * Messages a managed service may send to the manager over its IPC channel
 * (`process.send`). Cache events land in the manager's StatsRegistry under
 * the service's name.
 */
export type ServiceMessage =
  | { readonly type: 'core.cache'; readonly event: 'hit'; readonly addCostSavings?: boolean }
  | {
      readonly type: 'core.cache';
      readonly event: 'miss';
      readonly expired?: boolean;
      readonly uninitialized?: boolean;
    }
  | {
      readonly type: 'core.cache';
      readonly event: 'cleanup';
      readonly entriesCleaned: number;
      readonly success?: boolean;
    };

/** Narrowing guard for {@link ServiceMessage}; anything else on the channel is ignored. */
export function isServiceMessage(value: unknown): value is ServiceMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; event?: unknown; entriesCleaned?: unknown };
  if (message.type !== 'core.cache') return false;
  if (message.event === 'hit' || message.event === 'miss') return true;
  return (
    message.event === 'cleanup' &&
    typeof message.entriesCleaned === 'number' &&
    Number.isInteger(message.entriesCleaned) &&
    message.entriesCleaned >= 0
  );
}
