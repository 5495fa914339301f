import type { ResourceInput, ResourceRecord } from './contract.js';
import { RESOURCE_KIND } from './schema.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Checks a resource kind (a lower-case word). @throws TypeError */
export function checkKind(kind: unknown, caller: string): string {
  if (typeof kind !== 'string' || !RESOURCE_KIND.test(kind)) {
    throw new TypeError(
      `${caller}: "kind" must be a lower-case word such as "vm" or "port", got ${JSON.stringify(kind)}`,
    );
  }
  return kind;
}

/** Checks a resource id (a non-empty string). @throws TypeError */
export function checkId(id: unknown, caller: string, field = 'id'): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024) {
    throw new TypeError(
      `${caller}: "${field}" must be a non-empty string (at most 1024 characters), got ${JSON.stringify(id)}`,
    );
  }
  if (hasNonPrinting(id))
    throw new TypeError(
      `${caller}: "${field}" must be printable (no control, format, line or paragraph separator characters), got ${JSON.stringify(id)}`,
    );
  return id;
}

/** Checks component names. @throws TypeError */
export function checkComponents(components: unknown, caller: string): string[] {
  if (!Array.isArray(components) || !components.every((c) => typeof c === 'string')) {
    throw new TypeError(
      `${caller}: "components" must be an array of strings, got ${JSON.stringify(components)}`,
    );
  }
  return [...components];
}

/** Checks metadata and returns a JSON copy of it (what will be stored). @throws TypeError */
export function checkMetadata(metadata: unknown, caller: string): Record<string, unknown> {
  if (!isPlainObject(metadata)) {
    throw new TypeError(
      `${caller}: "metadata" must be a plain object, got ${metadata === null ? 'null' : typeof metadata}`,
    );
  }
  try {
    return JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
  } catch (error) {
    throw new TypeError(`${caller}: "metadata" must be JSON-serialisable: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Validates a resource input and builds its record. @throws TypeError */
export function toResourceRecord(input: ResourceInput, registeredAt: number, caller: string): ResourceRecord {
  if (!isPlainObject(input))
    throw new TypeError(`${caller}: the resource must be an object, got ${JSON.stringify(input)}`);
  const record: {
    -readonly [K in keyof ResourceRecord]: ResourceRecord[K];
  } = { kind: checkKind(input.kind, caller), id: checkId(input.id, caller), registeredAt };
  if (input.zone !== undefined) {
    if (typeof input.zone !== 'string')
      throw new TypeError(`${caller}: "zone" must be a string, got ${JSON.stringify(input.zone)}`);
    record.zone = input.zone;
  }
  if (input.components !== undefined) record.components = checkComponents(input.components, caller);
  if (input.pid !== undefined) {
    if (!Number.isInteger(input.pid) || input.pid <= 0) {
      throw new TypeError(`${caller}: "pid" must be a positive integer, got ${JSON.stringify(input.pid)}`);
    }
    record.pid = input.pid;
  }
  if (input.processStartTime !== undefined) {
    if (typeof input.processStartTime !== 'string') {
      throw new TypeError(
        `${caller}: "processStartTime" must be a string, got ${JSON.stringify(input.processStartTime)}`,
      );
    }
    record.processStartTime = input.processStartTime;
  }
  if (input.metadata !== undefined) record.metadata = checkMetadata(input.metadata, caller);
  return record;
}

// Controls (C0, DEL, C1), format characters (bidi overrides, zero-width),
// line and paragraph separators (U+2028/U+2029 end a line in many readers),
// surrogates, private use and unassigned code points: never part of a cloud
// resource name, and in a command argument or a log line an injection.
const NON_PRINTING = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u;

function hasNonPrinting(value: string): boolean {
  return NON_PRINTING.test(value);
}

/**
 * Why a value read from a store must not reach a cleanup command, or null
 * when it may: a leading `-` would be parsed as an option (`{id}` =
 * `--project=other` becomes a gcloud flag), control characters are never
 * part of a resource name.
 */
export function unsafeCommandValue(value: string): string | null {
  if (value.startsWith('-')) return `${JSON.stringify(value)} starts with "-" and would be read as an option`;
  if (hasNonPrinting(value))
    return `${JSON.stringify(value)} contains control or other non-printing characters`;
  return null;
}

/** Why a resource must not be handed to a cleanup (its id or zone is unsafe), or null. */
export function refusalReason(resource: Pick<ResourceRecord, 'id' | 'zone'>): string | null {
  const id = unsafeCommandValue(resource.id);
  if (id !== null) return `id ${id}`;
  if (resource.zone !== undefined) {
    const zone = unsafeCommandValue(resource.zone);
    if (zone !== null) return `zone ${zone}`;
  }
  return null;
}
