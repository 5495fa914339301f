// Placeholder with the agreed signature; helper "boot" owns the real
// sd_notify implementation (the integrator keeps theirs at merge).

/** systemd readiness notifications (`sd_notify`); a no-op without `$NOTIFY_SOCKET`. */
export interface Notifier {
  /** READY=1: every service is healthy. */
  ready(): void;
  /** STATUS=<text>: the current start phase. */
  status(text: string): void;
  /** RELOADING=1: a SIGHUP reload began. */
  reloading(): void;
  /** STOPPING=1: shutdown began. */
  stopping(): void;
  /** Closes the socket. */
  close(): void;
}

/** Creates the notifier for `$NOTIFY_SOCKET` of `env` (placeholder: does nothing). */
export function createNotifier(_env: NodeJS.ProcessEnv = process.env): Notifier {
  return { ready() {}, status() {}, reloading() {}, stopping() {}, close() {} };
}
