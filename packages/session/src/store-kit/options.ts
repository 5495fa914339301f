// The checks every fleet store makes of its constructor options: an object,
// valid for the store's own schema (the first problem named with the option's
// path and its value), a heartbeat below the lease's lifetime, a usable
// logger. Bad options are the caller's bug: TypeError, or RangeError for a
// number out of bounds.

/** One problem a schema found (zod's issue has this shape). */
export interface OptionIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** A schema of a store's options (a zod schema fits). */
export interface OptionsSchema<T> {
  safeParse(
    value: unknown,
  ):
    | { readonly success: true; readonly data: T }
    | { readonly success: false; readonly error: { readonly issues: readonly OptionIssue[] } };
}

/** How a store names itself and what it never shows. */
export interface StoreOptionsContext {
  /** The store's class, as messages name it (`RedisSessionStore`). */
  readonly store: string;
  /** Options whose value is never shown in a message (a password). */
  readonly hidden?: readonly string[];
}

/**
 * The options checked against `schema`, with its defaults applied.
 * @throws TypeError naming the first bad option and its value; RangeError when it is a number out of bounds
 */
export function parseStoreOptions<T>(
  context: StoreOptionsContext,
  schema: OptionsSchema<T>,
  options: unknown,
): T {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${context.store} options must be an object, got ${JSON.stringify(options)}`);
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') || '(options)';
  const value = issue?.path.reduce<unknown>(
    (at, key) => (at as Record<PropertyKey, unknown> | undefined)?.[key],
    options,
  );
  const shown = context.hidden?.includes(field) ? '(hidden)' : JSON.stringify(value);
  const message = `${context.store} option "${field}": expected ${issue?.message ?? 'a valid value'}, got ${shown}`;
  throw issue?.code === 'too_small' || issue?.code === 'too_big'
    ? new RangeError(message)
    : new TypeError(message);
}

/**
 * Refuses a heartbeat that does not fit in the lease's lifetime.
 * @param beat - what the store calls one renewal in the message (`beats`, `keepalives`)
 * @throws RangeError
 */
export function checkHeartbeat(store: string, heartbeatMs: number, leaseTtlMs: number, beat: string): void {
  if (heartbeatMs >= leaseTtlMs)
    throw new RangeError(
      `${store} option "heartbeatMs" (${heartbeatMs}) must be below "leaseTtlMs" (${leaseTtlMs}); ` +
        `a third of the TTL leaves room for two missed ${beat}`,
    );
}

/**
 * Refuses a logger without `warn(obj, msg)`.
 * @throws TypeError
 */
export function checkLogger(store: string, logger: unknown): void {
  if (logger !== undefined && typeof (logger as { warn?: unknown } | null)?.warn !== 'function')
    throw new TypeError(`${store} option "logger" must have a warn(obj, msg) method`);
}
