/**
 * The startup manager's named ports. Pass to {@link createPortRegistry} as
 * `defaults`, possibly spread with changes: `{ ...DEFAULT_PORTS, frontend: 3001 }`.
 */
export const DEFAULT_PORTS = {
  main_api: 8010,
  websocket_router: 8001,
  frontend: 3000,
  llama_cpp: 8080,
  event_ui: 8888,
} as const;

/**
 * The attribute aliases older code reads and writes (`manager.backendPort`):
 * alias → port name. Pass as `aliases` with {@link DEFAULT_PORTS}.
 */
export const DEFAULT_ALIASES = {
  /** The port of `main_api`. */
  backendPort: 'main_api',
  /** The port of `frontend`. */
  frontendPort: 'frontend',
  /** The port of `websocket_router`. */
  websocketPort: 'websocket_router',
  /** @deprecated Snake-case spelling kept for older code; use `backendPort` (or `ports.main_api`). */
  backend_port: 'main_api',
  /** @deprecated Snake-case spelling kept for older code; use `frontendPort` (or `ports.frontend`). */
  frontend_port: 'frontend',
  /** @deprecated Snake-case spelling kept for older code; use `websocketPort` (or `ports.websocket_router`). */
  websocket_port: 'websocket_router',
} as const;
