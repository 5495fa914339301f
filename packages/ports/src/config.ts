import { z } from 'zod';
import { PortAliasError, PortConflictError, PortEnvError, PortNameError, PortRangeError } from './errors.js';

/** Members of a registry object; an alias may not shadow one. */
export const REGISTRY_MEMBERS: ReadonlySet<string> = new Set([
  'ports',
  'names',
  'aliases',
  'host',
  'resolve',
  'validate',
  'snapshot',
  'toJSON',
]);

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An env override: digits only (surrounding blanks allowed), then an integer port. */
const envPortSchema = z
  .string()
  .trim()
  .regex(/^\d+$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(65535));

/** Whether `value` is an integer port in 1–65535. */
export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** Returns `value` when it is a port, else throws a {@link PortRangeError} naming `field`. */
export function checkPort(value: unknown, field: string): number {
  if (!isPort(value)) throw new PortRangeError(field, value);
  return value;
}

/** The inputs of createPortRegistry after validation. */
export interface PortConfig {
  readonly names: readonly string[];
  /** The port of each name after env overrides: where a name starts, and what healing returns to. */
  readonly configured: ReadonlyMap<string, number>;
  readonly aliases: ReadonlyMap<string, string>;
  readonly fallbacks: ReadonlyMap<string, readonly number[]>;
  readonly dynamicRange: readonly [number, number] | null;
  readonly host: string;
}

/** Raw options, as a caller may pass them from untyped code. */
export interface RawPortOptions {
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly envPrefix?: string | undefined;
  readonly aliases?: Readonly<Record<string, string>> | undefined;
  readonly fallbacks?: Readonly<Record<string, readonly number[] | undefined>> | undefined;
  readonly dynamicRange?: readonly [number, number] | undefined;
  readonly host?: string | undefined;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkNames(defaults: unknown): string[] {
  if (!isPlainRecord(defaults)) {
    throw new TypeError(
      `createPortRegistry: "defaults" must be an object of name → port, got ${typeof defaults}`,
    );
  }
  const names = Object.keys(defaults);
  if (names.length === 0) throw new TypeError('createPortRegistry: "defaults" must name at least one port');
  const byEnvKey = new Map<string, string>();
  for (const name of names) {
    if (!NAME_PATTERN.test(name) || name in Object.prototype) {
      throw new PortNameError(
        name,
        `createPortRegistry: port name ${JSON.stringify(name)} must match ${NAME_PATTERN} ` +
          '(it becomes part of an env variable name) and not be an Object.prototype member',
      );
    }
    const envKey = name.toUpperCase();
    const clash = byEnvKey.get(envKey);
    if (clash !== undefined) {
      throw new PortNameError(
        name,
        `createPortRegistry: port names "${clash}" and "${name}" differ only in case, so they would share the env variable suffix ${envKey}`,
      );
    }
    byEnvKey.set(envKey, name);
  }
  return names;
}

function readEnv(
  names: readonly string[],
  defaults: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  envPrefix: string | undefined,
): { configured: Map<string, number>; origin: Map<string, string> } {
  const configured = new Map<string, number>();
  const origin = new Map<string, string>();
  for (const name of names) {
    configured.set(name, checkPort(defaults[name], `defaults.${name}`));
    origin.set(name, `defaults.${name}`);
    if (envPrefix === undefined) continue;
    const variable = `${envPrefix}${name.toUpperCase()}`;
    const raw = env[variable];
    // An empty value counts as unset, as with `VAR=` in a compose file or shell.
    if (raw === undefined || raw === '') continue;
    const parsed = envPortSchema.safeParse(raw);
    if (!parsed.success) throw new PortEnvError(variable, raw);
    configured.set(name, parsed.data);
    origin.set(name, `env ${variable}`);
  }
  return { configured, origin };
}

function checkUnique(configured: ReadonlyMap<string, number>, origin: ReadonlyMap<string, string>): void {
  const owner = new Map<number, string>();
  for (const [name, port] of configured) {
    const first = owner.get(port);
    if (first !== undefined) {
      throw new PortConflictError(
        port,
        [first, name],
        `"${first}" from ${origin.get(first)} and "${name}" from ${origin.get(name)}; give each name its own port`,
      );
    }
    owner.set(port, name);
  }
}

function checkAliases(raw: unknown, configured: ReadonlyMap<string, number>): Map<string, string> {
  const aliases = new Map<string, string>();
  if (raw === undefined) return aliases;
  if (!isPlainRecord(raw))
    throw new TypeError('createPortRegistry: "aliases" must be an object of alias → name');
  for (const [alias, target] of Object.entries(raw)) {
    if (!NAME_PATTERN.test(alias) || alias in Object.prototype || REGISTRY_MEMBERS.has(alias)) {
      throw new PortAliasError(
        alias,
        `createPortRegistry: alias ${JSON.stringify(alias)} must match ${NAME_PATTERN} and not shadow a registry member (${[...REGISTRY_MEMBERS].join(', ')})`,
      );
    }
    if (typeof target !== 'string' || !configured.has(target)) {
      throw new PortAliasError(
        alias,
        `createPortRegistry: alias "${alias}" points at ${JSON.stringify(target)}, which is not a defined port name (defined: ${[...configured.keys()].join(', ')})`,
      );
    }
    aliases.set(alias, target);
  }
  return aliases;
}

function checkFallbacks(raw: unknown, configured: ReadonlyMap<string, number>): Map<string, number[]> {
  const fallbacks = new Map<string, number[]>();
  if (raw === undefined) return fallbacks;
  if (!isPlainRecord(raw)) {
    throw new TypeError('createPortRegistry: "fallbacks" must be an object of name → array of ports');
  }
  for (const [name, list] of Object.entries(raw)) {
    if (list === undefined) continue;
    if (!configured.has(name)) {
      throw new PortNameError(
        name,
        `createPortRegistry: fallbacks given for "${name}", which is not a defined port name (defined: ${[...configured.keys()].join(', ')})`,
      );
    }
    if (!Array.isArray(list)) {
      throw new TypeError(
        `createPortRegistry: fallbacks.${name} must be an array of ports, got ${typeof list}`,
      );
    }
    const ports = list.map((port, i) => checkPort(port, `fallbacks.${name}[${i}]`));
    fallbacks.set(name, [...new Set(ports)]);
  }
  return fallbacks;
}

function checkDynamicRange(raw: unknown): readonly [number, number] | null {
  if (raw === undefined) return null;
  if (!Array.isArray(raw) || raw.length !== 2) {
    throw new PortRangeError('dynamicRange', raw, 'a pair [from, to] of ports');
  }
  const from = checkPort(raw[0], 'dynamicRange[0]');
  const to = checkPort(raw[1], 'dynamicRange[1]');
  if (from > to) throw new PortRangeError('dynamicRange', raw, 'from <= to');
  return [from, to];
}

/**
 * Validates everything createPortRegistry is given, in the order a reader
 * would fix it: names, default ports, env overrides, clashes, aliases,
 * fallbacks, dynamic range, host.
 */
export function readPortConfig(defaults: unknown, options: RawPortOptions): PortConfig {
  const names = checkNames(defaults);
  const { envPrefix, env = process.env } = options;
  if (envPrefix !== undefined && typeof envPrefix !== 'string') {
    throw new TypeError(`createPortRegistry: "envPrefix" must be a string, got ${typeof envPrefix}`);
  }
  const { configured, origin } = readEnv(names, defaults as Record<string, unknown>, env, envPrefix);
  checkUnique(configured, origin);
  const aliases = checkAliases(options.aliases, configured);
  const fallbacks = checkFallbacks(options.fallbacks, configured);
  const dynamicRange = checkDynamicRange(options.dynamicRange);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new TypeError(`createPortRegistry: "host" must be a non-empty string, got ${JSON.stringify(host)}`);
  }
  return { names, configured, aliases, fallbacks, dynamicRange, host };
}
