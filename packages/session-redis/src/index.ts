/** Placeholder until the fleet issue lands. */
export const PACKAGE_NAME = '@core/session-redis';
